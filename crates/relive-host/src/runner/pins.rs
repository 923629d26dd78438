//! Which old generations stay mapped after a swap, decided by value: the
//! old frame thread asks its library which libraries the state's values
//! (`&'static str`, `fn` pointers, trait objects) actually point into, and
//! only those stay mapped; the others are closed. A trait object's own data
//! is opaque to relive (it may hold values of code older than its vtable),
//! so a generation a trait object points into keeps every older kept
//! generation too. At most [`MAX_KEPT`] old generations stay mapped: a swap
//! that would keep more is refused, naming the fields.

/// The most old generations kept mapped at once.
pub(crate) const MAX_KEPT: usize = 16;

/// The generations to keep mapped, oldest first, from `candidates`
/// (generation number, and what [`crate::Generation::points_into`] said of
/// its range), or why the swap is refused. `fields` names the carried
/// values that point into old code, for the refusal.
pub(crate) fn keep_mapped(candidates: &[(u64, u8)], fields: &[String]) -> Result<Vec<u64>, String> {
    let mut sorted = candidates.to_vec();
    sorted.sort_unstable();
    let opaque_from = sorted
        .iter()
        .filter(|(_, seen)| *seen == 2)
        .map(|(n, _)| *n)
        .max();
    let keep: Vec<u64> = sorted
        .iter()
        .filter(|(n, seen)| *seen != 0 || opaque_from.is_some_and(|from| *n < from))
        .map(|(n, _)| *n)
        .collect();
    if keep.len() > MAX_KEPT {
        return Err(format!(
            "the state holds values that point into the code of {} older generations, and relive keeps at most {MAX_KEPT} mapped ({}); set them again from the new code (in `reloaded`), mark their fields #[relive(reset)], or restart",
            keep.len(),
            fields.join(", ")
        ));
    }
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generations_that_values_point_into_stay_mapped() {
        let fields = vec!["All.motto (&'static str, pinned)".to_string()];
        assert_eq!(keep_mapped(&[(1, 1), (3, 0), (4, 0)], &fields), Ok(vec![1]));
        assert_eq!(keep_mapped(&[(5, 0), (2, 0)], &fields), Ok(vec![]));
        // A trait object made by generation 4 may hold values of older code.
        assert_eq!(
            keep_mapped(&[(4, 2), (1, 0), (3, 0), (6, 0)], &fields),
            Ok(vec![1, 3, 4])
        );
    }

    #[test]
    fn keeping_more_than_the_bound_is_refused_naming_the_fields() {
        let fields = vec!["All.steps[] (fn pointer, pinned)".to_string()];
        let within: Vec<(u64, u8)> = (1..=MAX_KEPT as u64).map(|n| (n, 1)).collect();
        assert_eq!(keep_mapped(&within, &fields).map(|k| k.len()), Ok(MAX_KEPT));
        let over: Vec<(u64, u8)> = (1..=MAX_KEPT as u64 + 1).map(|n| (n, 1)).collect();
        let err = keep_mapped(&over, &fields).expect_err("refused");
        assert!(err.contains("All.steps[]"), "{err}");
        assert!(err.contains("at most 16"), "{err}");
    }
}
