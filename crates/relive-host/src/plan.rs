//! Decides how the state moves from one generation to the next by comparing
//! the two layouts:
//! - [`Mode::Identical`]: every type is unchanged; the state's bytes move as
//!   they are, with no per-element work.
//! - [`Mode::Fields`]: only the state struct's own fields were added,
//!   removed or reordered (or a `#[relive(reset)]` field changed type); each
//!   kept field's bytes move, new fields start from `Default`.
//! - [`Mode::Migrate`]: a type inside the state changed compatibly: the old
//!   code saves the state by field name and the new code loads it (fields by
//!   name at any depth, enum variants by name, safe widening).
//! - Otherwise a refusal that names the first incompatible field and both
//!   types, e.g. `All.particles[].tag: u32 -> String`.
//!
//! A `#[relive(serde)]` value (`Kind::Serde`) is never identical as bytes,
//! so a state that holds one anywhere moves by name, and two such values are
//! compatible only when they are of the same type.
//!
//! It also lists the fields whose values point into the old library
//! (`&'static str`, `fn` pointers): when their bytes move, the old library
//! must stay mapped ("pinned").

mod compat;
mod identical;

use relive_abi::layout::{Field, Kind, Layout, short_name};

use compat::Compat;
use identical::Identical;

/// How the state moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// All bytes unchanged.
    Identical,
    /// Field by field, within the state struct.
    Fields,
    /// Saved by name by the old code, loaded by the new code.
    Migrate,
}

impl Mode {
    /// The name used in events.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Identical => "identical",
            Mode::Fields => "fields",
            Mode::Migrate => "by_name",
        }
    }
}

/// How the new generation takes the state over.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// How the state moves.
    pub mode: Mode,
    /// For [`Mode::Fields`], for each field of the new state struct: the
    /// offset of its value in the old state, or -1 for `Default`.
    pub sources: Vec<i64>,
    /// For [`Mode::Fields`], for each field of the old state struct: 1 if the
    /// new state does not take it (the old generation drops it).
    pub drop_mask: Vec<u8>,
    /// Paths of fields that start from `Default`.
    pub added: Vec<String>,
    /// Paths of fields (and enum variants) that are dropped.
    pub removed: Vec<String>,
    /// `path: old -> new` of values widened to a larger type.
    pub widened: Vec<String>,
    /// Paths of `#[relive(reset)]` fields reset because their type changed.
    pub reset: Vec<String>,
    /// `path (what)` of carried values that point into the old library.
    pub pinned: Vec<String>,
}

impl Plan {
    fn new(mode: Mode) -> Plan {
        Plan {
            mode,
            sources: Vec::new(),
            drop_mask: Vec::new(),
            added: Vec::new(),
            removed: Vec::new(),
            widened: Vec::new(),
            reset: Vec::new(),
            pinned: Vec::new(),
        }
    }

    /// Whether the state's types can hold values that point into the old
    /// generation after the swap (whether they do is decided by value, at
    /// the swap).
    pub fn pins_old_generation(&self) -> bool {
        self.pinned.iter().any(|p| p.ends_with(", pinned)"))
    }
}

/// Why the state cannot move to the new code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Plans the move of a state with layout `old` into one with layout `new`.
pub fn plan(old: &Layout, new: &Layout) -> Result<Plan, Refusal> {
    let root = short_name(&new.root);
    let mut identical = Identical::new(old, new);
    let mut plan = if identical.same(&old.root, &new.root) {
        Plan::new(Mode::Identical)
    } else if let Some(plan) = fields_plan(old, new, &root, &mut identical) {
        plan
    } else {
        let mut compat = Compat::new(old, new);
        compat.check(&old.root, &new.root, &root).map_err(Refusal)?;
        let mut plan = Plan::new(Mode::Migrate);
        compat.report(&mut plan);
        // Kept values are not saved: they start from `Default` and the
        // new code's `reloaded` makes them again.
        plan.reset
            .extend(crate::keep::kept_fields(new).into_iter().map(|k| k.path));
        plan
    };
    let pins = pins(new, plan.mode);
    if plan.mode == Mode::Migrate {
        for pin in pins.iter().filter(|p| !p.relinked()) {
            match &pin.reset {
                Some(field) if !plan.reset.contains(field) => plan.reset.push(field.clone()),
                Some(_) => {}
                None => {
                    return Err(Refusal(format!(
                        "{}: a {} cannot be migrated by field name (it points into the old code, and a type in the state changed); mark it (or a field around it) #[relive(reset)] to start it from Default at such a reload, or restart",
                        pin.path, pin.what
                    )));
                }
            }
        }
    }
    plan.pinned = pins.iter().map(Pin::describe).collect();
    Ok(plan)
}

fn struct_fields<'a>(layout: &'a Layout, key: &str) -> Option<&'a [Field]> {
    match &layout.types.get(key)?.kind {
        Kind::Struct { fields } => Some(fields),
        _ => None,
    }
}

/// A field-by-field move of the state struct, if every kept field has an
/// identical layout (or is a reset field). Skipped fields inside moved
/// fields are reset by the new code.
fn fields_plan(
    old: &Layout,
    new: &Layout,
    root: &str,
    identical: &mut Identical<'_>,
) -> Option<Plan> {
    let (old_fields, new_fields) = (
        struct_fields(old, &old.root)?,
        struct_fields(new, &new.root)?,
    );
    let mut plan = Plan::new(Mode::Fields);
    plan.drop_mask = vec![0; old_fields.len()];
    for field in new_fields {
        let path = format!("{root}.{}", field.name);
        let before = old_fields.iter().find(|f| f.name == field.name && !f.skip);
        match before {
            _ if field.skip => plan.sources.push(-1),
            Some(before) if identical.same(&before.ty, &field.ty) => {
                plan.sources.push(before.offset as i64);
            }
            // A reset field starts over only when its old value cannot be
            // loaded at all; one that loads by name (a serde value, which is
            // never identical as bytes, or a widened number) keeps it.
            Some(before)
                if field.reset
                    && Compat::new(old, new)
                        .check(&before.ty, &field.ty, &path)
                        .is_err() =>
            {
                plan.sources.push(-1);
                plan.reset.push(path);
            }
            Some(_) => return None,
            None => {
                plan.sources.push(-1);
                plan.added.push(path);
            }
        }
    }
    for (i, field) in old_fields.iter().enumerate() {
        let taken = new_fields
            .iter()
            .zip(&plan.sources)
            .any(|(f, &src)| f.name == field.name && src >= 0);
        if !taken {
            plan.drop_mask[i] = 1;
            if !field.skip && !new_fields.iter().any(|f| f.name == field.name) {
                plan.removed.push(format!("{root}.{}", field.name));
            }
        }
    }
    Some(plan)
}

/// A carried value that points into the library that made it.
#[derive(Debug)]
struct Pin {
    path: String,
    what: String,
    mode: Mode,
    /// The nearest `#[relive(reset)]` field around it (or itself), if any.
    reset: Option<String>,
}

impl Pin {
    /// A `&'static str` that a migration re-links to a copy of its text.
    fn relinked(&self) -> bool {
        self.mode == Mode::Migrate && self.what == "&'static str"
    }

    fn describe(&self) -> String {
        let how = if self.relinked() {
            "re-linked"
        } else if self.mode == Mode::Migrate {
            // Only reset pins pass a migration (see `plan`).
            "reset"
        } else {
            "pinned"
        };
        format!("{} ({}, {how})", self.path, self.what)
    }
}

/// Carried values that point into the library that made them.
fn pins(layout: &Layout, mode: Mode) -> Vec<Pin> {
    let mut walk = PinWalk {
        layout,
        mode,
        seen: std::collections::HashSet::new(),
        out: Vec::new(),
    };
    walk.visit(&layout.root, &short_name(&layout.root), None);
    walk.out
}

struct PinWalk<'a> {
    layout: &'a Layout,
    mode: Mode,
    /// Types on the path from the root (a type that contains itself).
    seen: std::collections::HashSet<String>,
    out: Vec<Pin>,
}

impl PinWalk<'_> {
    fn visit(&mut self, key: &str, path: &str, reset: Option<&str>) {
        if !self.seen.insert(key.to_string()) {
            return;
        }
        let layout = self.layout;
        let Some(def) = layout.types.get(key) else {
            return;
        };
        match &def.kind {
            Kind::Pinned { what } => self.out.push(Pin {
                path: path.to_string(),
                what: what.clone(),
                mode: self.mode,
                reset: reset.map(str::to_string),
            }),
            Kind::Struct { fields } | Kind::Tuple { fields } => {
                self.fields(fields, path, reset);
            }
            Kind::Enum { variants, .. } => {
                for variant in variants {
                    self.fields(&variant.fields, &format!("{path}::{}", variant.name), reset);
                }
            }
            Kind::Array { elem, .. } => self.visit(elem, &format!("{path}[]"), reset),
            Kind::Container { name, args } => {
                for (arg, suffix) in args.iter().zip(container_paths(name, args.len())) {
                    self.visit(arg, &format!("{path}{suffix}"), reset);
                }
            }
            Kind::Scalar | Kind::Serde { .. } | Kind::Opaque => {}
        }
        self.seen.remove(key);
    }

    fn fields(&mut self, fields: &[Field], path: &str, reset: Option<&str>) {
        for field in fields.iter().filter(|f| !f.skip) {
            let at = format!("{path}.{}", field.name);
            let reset = reset.or(field.reset.then_some(at.as_str()));
            let reset = reset.map(str::to_string);
            self.visit(&field.ty, &at, reset.as_deref());
        }
    }
}

/// The path suffix of a map's or set's hasher builder: a migration rebuilds
/// the table, so any hasher loads as any other.
const HASHER: &str = "[hasher]";

/// Path suffixes for the type parameters of a container.
fn container_paths(name: &str, count: usize) -> Vec<&'static str> {
    match (name, count) {
        ("HashMap" | "BTreeMap" | "IndexMap", 2 | 3) => vec!["[key]", "[]", HASHER],
        ("HashSet" | "IndexSet", 2) => vec!["[]", HASHER],
        ("Option" | "Box", _) => vec![""; count],
        _ => vec!["[]"; count],
    }
}

#[cfg(test)]
mod identity_props;
#[cfg(test)]
mod tests;
