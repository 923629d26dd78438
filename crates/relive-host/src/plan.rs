//! Decides how the state moves from one generation to the next by comparing
//! the two layouts: all bytes as they are (identical layout), field by field
//! (fields of the state struct added, removed or reordered, each kept field
//! with an identical layout), or not at all: a refusal that names the first
//! field whose layout changed, with both types.

use std::collections::HashSet;

use relive_abi::layout::{Field, Kind, Layout, short_name};

/// How the new generation takes the state over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Move all bytes unchanged.
    pub identical: bool,
    /// For each field of the new state struct: the offset of its value in the
    /// old state, or -1 for a field that starts from `Default`.
    pub sources: Vec<i64>,
    /// For each field of the old state struct: 1 if the new state does not
    /// take it (the old generation drops it).
    pub drop_mask: Vec<u8>,
    /// Fields of the new state that start from `Default`.
    pub added: Vec<String>,
    /// Fields of the old state that are dropped.
    pub removed: Vec<String>,
}

/// Why the state cannot move to the new code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Plans the move of a state with layout `old` into one with layout `new`.
pub fn plan(old: &Layout, new: &Layout) -> Result<Plan, Refusal> {
    let root = short_name(&new.root);
    let mut compare = Compare {
        old,
        new,
        assumed: HashSet::new(),
    };
    if compare.diff(&old.root, &new.root, &root).is_none() {
        return Ok(Plan {
            identical: true,
            sources: Vec::new(),
            drop_mask: Vec::new(),
            added: Vec::new(),
            removed: Vec::new(),
        });
    }
    let (Some(old_fields), Some(new_fields)) =
        (struct_fields(old, &old.root), struct_fields(new, &new.root))
    else {
        return Err(Refusal(format!(
            "{root}: the state type must stay a struct ({} -> {})",
            short_name(&old.root),
            short_name(&new.root)
        )));
    };
    let mut plan = Plan {
        identical: false,
        sources: Vec::with_capacity(new_fields.len()),
        drop_mask: vec![0; old_fields.len()],
        added: Vec::new(),
        removed: Vec::new(),
    };
    for field in new_fields {
        match old_fields.iter().find(|f| f.name == field.name) {
            Some(before) => {
                let path = format!("{root}.{}", field.name);
                if let Some(why) = compare.diff(&before.ty, &field.ty, &path) {
                    return Err(Refusal(why));
                }
                plan.sources.push(before.offset as i64);
            }
            None => {
                plan.sources.push(-1);
                plan.added.push(field.name.clone());
            }
        }
    }
    for (i, field) in old_fields.iter().enumerate() {
        if !new_fields.iter().any(|f| f.name == field.name) {
            plan.drop_mask[i] = 1;
            plan.removed.push(field.name.clone());
        }
    }
    Ok(plan)
}

fn struct_fields<'a>(layout: &'a Layout, key: &str) -> Option<&'a [Field]> {
    match &layout.types.get(key)?.kind {
        Kind::Struct { fields } => Some(fields),
        _ => None,
    }
}

struct Compare<'a> {
    old: &'a Layout,
    new: &'a Layout,
    /// Pairs being compared further up (a type that contains itself):
    /// assumed identical, which holds if nothing else differs.
    assumed: HashSet<(String, String)>,
}

impl Compare<'_> {
    /// The first difference between old type `a` and new type `b`, described
    /// at `path`; `None` when their bytes mean the same.
    fn diff(&mut self, a: &str, b: &str, path: &str) -> Option<String> {
        let changed = || format!("{path}: {} -> {}", short_name(a), short_name(b));
        let (Some(old), Some(new)) = (self.old.types.get(a), self.new.types.get(b)) else {
            return Some(format!("{path}: type {} is not described", short_name(b)));
        };
        if !self.assumed.insert((a.to_string(), b.to_string())) {
            return None;
        }
        let result = match (&old.kind, &new.kind) {
            (Kind::Scalar, Kind::Scalar) => (a != b).then(changed),
            (Kind::Struct { fields: f }, Kind::Struct { fields: g })
            | (Kind::Tuple { fields: f }, Kind::Tuple { fields: g }) => self.fields(f, g, path),
            (Kind::Enum { variants: v }, Kind::Enum { variants: w }) => {
                let names = |vs: &[relive_abi::layout::Variant]| {
                    vs.iter().map(|v| v.name.clone()).collect::<Vec<_>>()
                };
                if names(v) != names(w) {
                    Some(format!(
                        "{path}: variants changed ({} -> {})",
                        names(v).join(", "),
                        names(w).join(", ")
                    ))
                } else {
                    v.iter().zip(w).find_map(|(x, y)| {
                        self.fields(&x.fields, &y.fields, &format!("{path}::{}", y.name))
                    })
                }
            }
            (Kind::Array { elem: x, len: n }, Kind::Array { elem: y, len: m }) => {
                if n != m {
                    Some(changed())
                } else {
                    self.diff(x, y, &format!("{path}[]"))
                }
            }
            (Kind::Container { name: x, args: p }, Kind::Container { name: y, args: q }) => {
                if x != y || p.len() != q.len() {
                    Some(changed())
                } else {
                    let suffixes = container_paths(x, p.len());
                    p.iter()
                        .zip(q)
                        .zip(suffixes)
                        .find_map(|((s, t), suffix)| self.diff(s, t, &format!("{path}{suffix}")))
                }
            }
            _ => Some(changed()),
        };
        let result = result.or_else(|| {
            (old.size != new.size || old.align != new.align).then(|| {
                format!(
                    "{path}: layout of {} changed (size {} -> {}, align {} -> {})",
                    short_name(b),
                    old.size,
                    new.size,
                    old.align,
                    new.align
                )
            })
        });
        if result.is_some() {
            self.assumed.remove(&(a.to_string(), b.to_string()));
        }
        result
    }

    fn fields(&mut self, f: &[Field], g: &[Field], path: &str) -> Option<String> {
        let names = |fs: &[Field]| fs.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        if names(f) != names(g) {
            let added: Vec<_> = g
                .iter()
                .filter(|x| !f.iter().any(|y| y.name == x.name))
                .map(|x| x.name.as_str())
                .collect();
            let removed: Vec<_> = f
                .iter()
                .filter(|x| !g.iter().any(|y| y.name == x.name))
                .map(|x| x.name.as_str())
                .collect();
            return Some(format!(
                "{path}: fields changed (added: [{}], removed: [{}], order: {} -> {}); only the state struct's own fields can change in this version",
                added.join(", "),
                removed.join(", "),
                names(f).join(", "),
                names(g).join(", ")
            ));
        }
        // A changed type names the field better than the offsets it moves.
        let paths: Vec<String> = g.iter().map(|y| format!("{path}.{}", y.name)).collect();
        if let Some(why) = f
            .iter()
            .zip(g)
            .zip(&paths)
            .find_map(|((x, y), at)| self.diff(&x.ty, &y.ty, at))
        {
            return Some(why);
        }
        f.iter().zip(g).zip(&paths).find_map(|((x, y), at)| {
            (x.offset != y.offset)
                .then(|| format!("{at}: moved from offset {} to {}", x.offset, y.offset))
        })
    }
}

/// Path suffixes for the type parameters of a container.
fn container_paths(name: &str, count: usize) -> Vec<&'static str> {
    match (name, count) {
        ("HashMap" | "BTreeMap", 2) => vec!["[key]", "[]"],
        ("Option" | "Box", _) => vec![""; count],
        _ => vec!["[]"; count],
    }
}

#[cfg(test)]
mod tests;
