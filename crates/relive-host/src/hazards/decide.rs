//! What to do with one signal's handler when a generation is closed, from
//! which generation's mapping holds the installed handler.

/// The decision for one signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignalVerdict {
    /// Nothing of the closing generation is involved.
    Untouched,
    /// The installed handler is the closing generation's: put back what
    /// relive found at start.
    Restore,
    /// A newer generation's handler replaced one of the closing
    /// generation's, and may chain to it (signal-hook and most handler
    /// crates call the handler they replaced): keep the old code mapped.
    KeepMapped,
}

/// `closing` is the generation being closed, `owner` the generation whose
/// mapping holds the installed handler (none: the default, ignore, or code
/// outside every generation), `closing_installed` whether a handler of the
/// closing generation was ever seen installed for this signal.
pub(crate) fn judge_signal(
    closing: u64,
    owner: Option<u64>,
    closing_installed: bool,
) -> SignalVerdict {
    match owner {
        Some(owner) if owner == closing => SignalVerdict::Restore,
        Some(_) if closing_installed => SignalVerdict::KeepMapped,
        _ => SignalVerdict::Untouched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handler_of_the_closing_generation_is_restored() {
        assert_eq!(judge_signal(1, Some(1), true), SignalVerdict::Restore);
        // Even when no earlier snapshot saw it being installed.
        assert_eq!(judge_signal(3, Some(3), false), SignalVerdict::Restore);
    }

    #[test]
    fn a_newer_handler_over_an_old_one_keeps_the_old_mapped() {
        assert_eq!(judge_signal(1, Some(2), true), SignalVerdict::KeepMapped);
    }

    #[test]
    fn handlers_that_never_were_the_closing_generations_are_left_alone() {
        assert_eq!(judge_signal(1, Some(2), false), SignalVerdict::Untouched);
        assert_eq!(judge_signal(1, None, true), SignalVerdict::Untouched);
        assert_eq!(judge_signal(1, None, false), SignalVerdict::Untouched);
    }
}
