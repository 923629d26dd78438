//! Whether a value of an old type can be loaded as a new type by name:
//! struct fields and enum variants matched by name at any depth, new ones
//! from `Default`, removed ones dropped, safe widening (`u32 -> u64`,
//! `i32 -> i64`, `f32 -> f64`, `T -> Option<T>`), `#[relive(reset)]`
//! fields reset when their type changed. Anything else is named.

use std::collections::HashSet;

use relive_abi::layout::{Field, Kind, Layout, short_name};

use super::identical::Identical;
use super::{HASHER, Plan, container_paths};

/// Lossless conversions between scalars that serde's number visitors accept.
fn widens(from: &str, to: &str) -> bool {
    const UNSIGNED: [&str; 5] = ["u8", "u16", "u32", "u64", "u128"];
    const SIGNED: [&str; 5] = ["i8", "i16", "i32", "i64", "i128"];
    let rank = |list: &[&str], t: &str| list.iter().position(|x| *x == t);
    match (
        rank(&UNSIGNED, from),
        rank(&UNSIGNED, to),
        rank(&SIGNED, from),
        rank(&SIGNED, to),
    ) {
        (Some(a), Some(b), _, _) => a < b,
        (_, _, Some(a), Some(b)) => a < b,
        (Some(a), _, _, Some(b)) => a < b,
        _ => from == "f32" && to == "f64",
    }
}

/// Whether values of type `key` may be saved as serde's unit or none (as
/// `State::SAVES_AS_UNIT` says): an `Option` around such a type saves `Some`
/// differently, so a value saved around another type does not load.
fn saves_as_unit(layout: &Layout, key: &str) -> bool {
    match layout.types.get(key).map(|d| &d.kind) {
        Some(Kind::Container { name, .. }) if name == "Option" => true,
        Some(Kind::Container { name, args }) if name == "Box" && args.len() == 1 => {
            saves_as_unit(layout, &args[0])
        }
        Some(Kind::Scalar) => key == "()",
        _ => false,
    }
}

fn unit_option(changed: String) -> String {
    format!(
        "{changed}: an Option around an Option or () is saved differently, so the value cannot be carried by name; mark the field #[relive(reset)] or restart"
    )
}

/// Checks compatibility and collects what a migration would change.
pub(super) struct Compat<'a> {
    old: &'a Layout,
    new: &'a Layout,
    identical: Identical<'a>,
    /// Pairs being checked further up this path (a type that contains
    /// itself).
    assumed: HashSet<(String, String)>,
    added: Vec<String>,
    removed: Vec<String>,
    widened: Vec<String>,
    reset: Vec<String>,
}

impl<'a> Compat<'a> {
    pub(super) fn new(old: &'a Layout, new: &'a Layout) -> Self {
        Compat {
            old,
            new,
            identical: Identical::new(old, new),
            assumed: HashSet::new(),
            added: Vec::new(),
            removed: Vec::new(),
            widened: Vec::new(),
            reset: Vec::new(),
        }
    }

    /// Moves what was collected into `plan`.
    pub(super) fn report(self, plan: &mut Plan) {
        plan.added = self.added;
        plan.removed = self.removed;
        plan.widened = self.widened;
        plan.reset = self.reset;
    }

    /// Whether old type `a` loads as new type `b`; the error names the path.
    pub(super) fn check(&mut self, a: &str, b: &str, path: &str) -> Result<(), String> {
        let (Some(old), Some(new)) = (self.old.types.get(a), self.new.types.get(b)) else {
            return Err(format!("{path}: type {} is not described", short_name(b)));
        };
        if self.identical.same(a, b) {
            return Ok(());
        }
        // Only a type pair already being compared further up this path (a
        // recursive type) is assumed to fit; every other path is compared,
        // so each changed field path is reported.
        let pair = (a.to_string(), b.to_string());
        if !self.assumed.insert(pair.clone()) {
            return Ok(());
        }
        let result = self.compare(&old.kind, &new.kind, a, b, path);
        self.assumed.remove(&pair);
        result
    }

    /// Compares old type `a` of kind `old` with new type `b` of kind `new`.
    fn compare(
        &mut self,
        old: &Kind,
        new: &Kind,
        a: &str,
        b: &str,
        path: &str,
    ) -> Result<(), String> {
        let changed = || format!("{path}: {} -> {}", short_name(a), short_name(b));
        // A refused type change says what the user can do about it.
        let refused = || {
            format!(
                "{}; mark the field #[relive(reset)] to start it from Default, or restart to change its type",
                changed()
            )
        };
        match (old, new) {
            (Kind::Scalar, Kind::Scalar) => {
                if a == b {
                    Ok(())
                } else if widens(a, b) {
                    self.widened.push(changed());
                    Ok(())
                } else {
                    Err(refused())
                }
            }
            (Kind::Serde { ty: x }, Kind::Serde { ty: y }) if x == y => Ok(()),
            (Kind::Pinned { .. }, Kind::Pinned { .. }) if a == b => Ok(()),
            (Kind::Pinned { what }, Kind::Pinned { .. }) if what == "trait object" => Err(format!(
                "{path}: the trait behind this trait object changed, so the old objects' vtables do not fit the new code; restart to change it"
            )),
            (Kind::Pinned { what }, Kind::Pinned { .. }) => Err(format!(
                "{path}: a {what} whose type changed ({} -> {}) still points into the old code; restart to change it",
                short_name(a),
                short_name(b)
            )),
            (Kind::Struct { fields: f }, Kind::Struct { fields: g })
            | (Kind::Tuple { fields: f }, Kind::Tuple { fields: g }) => self.fields(f, g, path),
            (Kind::Enum { variants: v, .. }, Kind::Enum { variants: w, .. }) => {
                for variant in w {
                    let at = format!("{path}::{}", variant.name);
                    match v.iter().find(|x| x.name == variant.name) {
                        Some(before) => self.fields(&before.fields, &variant.fields, &at)?,
                        None => self.added.push(at),
                    }
                }
                for variant in v.iter().filter(|x| !w.iter().any(|y| y.name == x.name)) {
                    self.removed.push(format!("{path}::{}", variant.name));
                }
                Ok(())
            }
            (Kind::Array { elem: x, len: n }, Kind::Array { elem: y, len: m }) if n == m => {
                self.check(x, y, &format!("{path}[]"))
            }
            (Kind::Container { name: x, args: p }, Kind::Container { name: y, args: q })
                if x == y && p.len() == q.len() =>
            {
                if x == "Option"
                    && p.len() == 1
                    && saves_as_unit(self.old, &p[0]) != saves_as_unit(self.new, &q[0])
                {
                    return Err(unit_option(changed()));
                }
                for ((s, t), suffix) in p.iter().zip(q).zip(container_paths(x, p.len())) {
                    if suffix != HASHER {
                        self.check(s, t, &format!("{path}{suffix}"))?;
                    }
                }
                Ok(())
            }
            (_, Kind::Container { name, args }) if name == "Option" && args.len() == 1 => {
                if saves_as_unit(self.new, &args[0]) {
                    return Err(unit_option(changed()));
                }
                self.check(a, &args[0], path).map_err(|_| refused())?;
                self.widened.push(changed());
                Ok(())
            }
            _ => Err(refused()),
        }
    }

    fn marks(&self) -> [usize; 4] {
        [
            self.added.len(),
            self.removed.len(),
            self.widened.len(),
            self.reset.len(),
        ]
    }

    fn forget_since(&mut self, [added, removed, widened, reset]: [usize; 4]) {
        self.added.truncate(added);
        self.removed.truncate(removed);
        self.widened.truncate(widened);
        self.reset.truncate(reset);
    }

    fn fields(&mut self, f: &[Field], g: &[Field], path: &str) -> Result<(), String> {
        for field in g.iter().filter(|x| !x.skip) {
            let at = format!("{path}.{}", field.name);
            match f.iter().find(|x| x.name == field.name && !x.skip) {
                Some(before) => {
                    let marks = self.marks();
                    if let Err(why) = self.check(&before.ty, &field.ty, &at) {
                        if !field.reset {
                            return Err(why);
                        }
                        // The field starts from `Default`: what the failed
                        // check collected below it does not happen.
                        self.forget_since(marks);
                        self.reset.push(at);
                    }
                }
                None => self.added.push(at),
            }
        }
        for field in f
            .iter()
            .filter(|x| !x.skip && !g.iter().any(|y| y.name == x.name))
        {
            self.removed.push(format!("{path}.{}", field.name));
        }
        Ok(())
    }
}
