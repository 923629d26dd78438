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

    /// Whether the old generation must stay mapped after the swap.
    pub fn pins_old_generation(&self) -> bool {
        self.pinned.iter().any(|p| !p.ends_with("(re-linked)"))
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
    let mut plan = if identical.same(&old.root, &new.root) && !has_skipped(new) {
        Plan::new(Mode::Identical)
    } else if let Some(plan) = fields_plan(old, new, &root, &mut identical) {
        plan
    } else {
        let mut compat = Compat::new(old, new);
        compat.check(&old.root, &new.root, &root).map_err(Refusal)?;
        let mut plan = Plan::new(Mode::Migrate);
        compat.report(&mut plan);
        plan
    };
    let pins = pins(new, plan.mode);
    if plan.mode == Mode::Migrate
        && let Some(pin) = pins.iter().find(|p| !p.survives_migration())
    {
        return Err(Refusal(format!(
            "{}: {}; keep the types around it unchanged for this reload, or restart",
            pin.path,
            pin.why_not_migrated()
        )));
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
/// identical layout (or is a reset field) and no skipped field hides inside.
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
                if contains_skipped(new, &field.ty) {
                    return None;
                }
                plan.sources.push(before.offset as i64);
            }
            Some(_) if field.reset => {
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

/// Whether any struct or variant reachable in `layout` has a skipped field.
fn has_skipped(layout: &Layout) -> bool {
    contains_skipped(layout, &layout.root)
}

fn contains_skipped(layout: &Layout, key: &str) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![key.to_string()];
    while let Some(key) = stack.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(def) = layout.types.get(&key) else {
            continue;
        };
        let fields: Vec<&Field> = match &def.kind {
            Kind::Struct { fields } | Kind::Tuple { fields } => fields.iter().collect(),
            Kind::Enum { variants, .. } => variants.iter().flat_map(|v| &v.fields).collect(),
            Kind::Array { elem, .. } => {
                stack.push(elem.clone());
                Vec::new()
            }
            Kind::Container { args, .. } => {
                stack.extend(args.iter().cloned());
                Vec::new()
            }
            Kind::Scalar | Kind::Pinned { .. } | Kind::Serde { .. } => Vec::new(),
        };
        for field in fields {
            if field.skip {
                return true;
            }
            stack.push(field.ty.clone());
        }
    }
    false
}

/// A carried value that points into the library that made it.
#[derive(Debug)]
struct Pin {
    path: String,
    what: String,
    key: String,
    mode: Mode,
}

/// Types whose layout no reload can change: a `fn` pointer whose signature
/// has only these keeps fitting the new code.
const FIXED: [&str; 17] = [
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char", "fn",
];

impl Pin {
    fn relinked(&self) -> bool {
        self.mode == Mode::Migrate && self.what == "&'static str"
    }

    /// Whether the value still fits new code whose types changed.
    fn survives_migration(&self) -> bool {
        match self.what.as_str() {
            "&'static str" => true,
            "fn pointer" => self
                .key
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .all(|word| word.is_empty() || FIXED.contains(&word)),
            _ => false,
        }
    }

    fn why_not_migrated(&self) -> String {
        match self.what.as_str() {
            "fn pointer" => format!(
                "a fn pointer into the old code ({}) takes or returns types that may have changed, so it cannot cross a migration by field name",
                short_name(&self.key)
            ),
            _ => "a trait object cannot be migrated by field name, and a type around it changed"
                .to_string(),
        }
    }

    fn describe(&self) -> String {
        let how = if self.relinked() {
            "re-linked"
        } else {
            "pinned"
        };
        format!("{} ({}, {how})", self.path, self.what)
    }
}

/// Carried values that point into the library that made them.
fn pins(layout: &Layout, mode: Mode) -> Vec<Pin> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    walk_pins(
        layout,
        &layout.root,
        &short_name(&layout.root),
        mode,
        &mut seen,
        &mut out,
    );
    out
}

fn walk_pins(
    layout: &Layout,
    key: &str,
    path: &str,
    mode: Mode,
    seen: &mut std::collections::HashSet<String>,
    out: &mut Vec<Pin>,
) {
    if !seen.insert(key.to_string()) {
        return;
    }
    let Some(def) = layout.types.get(key) else {
        return;
    };
    match &def.kind {
        Kind::Pinned { what } => out.push(Pin {
            path: path.to_string(),
            what: what.clone(),
            key: key.to_string(),
            mode,
        }),
        Kind::Struct { fields } | Kind::Tuple { fields } => {
            for field in fields.iter().filter(|f| !f.skip) {
                walk_pins(
                    layout,
                    &field.ty,
                    &format!("{path}.{}", field.name),
                    mode,
                    seen,
                    out,
                );
            }
        }
        Kind::Enum { variants, .. } => {
            for variant in variants {
                for field in variant.fields.iter().filter(|f| !f.skip) {
                    let at = format!("{path}::{}.{}", variant.name, field.name);
                    walk_pins(layout, &field.ty, &at, mode, seen, out);
                }
            }
        }
        Kind::Array { elem, .. } => walk_pins(layout, elem, &format!("{path}[]"), mode, seen, out),
        Kind::Container { name, args } => {
            for (arg, suffix) in args.iter().zip(container_paths(name, args.len())) {
                walk_pins(layout, arg, &format!("{path}{suffix}"), mode, seen, out);
            }
        }
        Kind::Scalar | Kind::Serde { .. } => {}
    }
    seen.remove(key);
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
mod tests;
