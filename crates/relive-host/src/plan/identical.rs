//! Whether two types' bytes mean the same: same kind, size, alignment, field
//! names, offsets and field types, all the way down.
//!
//! The type of a `#[relive(skip)]` field is known by name only (it need not
//! be `State`). When the value around it moves as bytes, the new code drops
//! the old value with its own code, so the two types must be the same: two
//! names count as the same type only when they name nothing but std types and
//! primitives, whose definitions the compiler (checked by the handshake)
//! fixes. An app's own type, or another crate's, may change under one name.

use std::collections::HashSet;

use relive_abi::layout::{Field, Kind, Layout};

/// Compares types of an old and a new layout.
pub(super) struct Identical<'a> {
    old: &'a Layout,
    new: &'a Layout,
    /// Pairs being compared further up (a type that contains itself):
    /// assumed identical, which holds if nothing else differs; and pairs
    /// found identical, kept for later questions.
    assumed: HashSet<(String, String)>,
    /// The pairs of `assumed` in the order they were added, so that a failed
    /// comparison can forget what it added.
    log: Vec<(String, String)>,
}

impl<'a> Identical<'a> {
    pub(super) fn new(old: &'a Layout, new: &'a Layout) -> Self {
        Identical {
            old,
            new,
            assumed: HashSet::new(),
            log: Vec::new(),
        }
    }

    /// Whether old type `a` and new type `b` have the same bytes.
    pub(super) fn same(&mut self, a: &str, b: &str) -> bool {
        let mark = self.log.len();
        let same = self.compare(a, b);
        if !same {
            // Every pair assumed or found identical during this comparison
            // may rest on an assumption that has just failed: forget them
            // all, so that no later question is answered from them.
            for pair in self.log.drain(mark..) {
                self.assumed.remove(&pair);
            }
        }
        same
    }

    fn compare(&mut self, a: &str, b: &str) -> bool {
        let (Some(old), Some(new)) = (self.old.types.get(a), self.new.types.get(b)) else {
            return false;
        };
        if old.size != new.size || old.align != new.align {
            return false;
        }
        let pair = (a.to_string(), b.to_string());
        if !self.assumed.insert(pair.clone()) {
            return true;
        }
        self.log.push(pair);
        match (&old.kind, &new.kind) {
            (Kind::Scalar, Kind::Scalar) | (Kind::Pinned { .. }, Kind::Pinned { .. }) => a == b,
            (Kind::Opaque, Kind::Opaque) => {
                a == b && (fixed_by_the_compiler(a) || fingerprinted_zero_sized(a, old.size))
            }
            (Kind::Struct { fields: f }, Kind::Struct { fields: g })
            | (Kind::Tuple { fields: f }, Kind::Tuple { fields: g }) => self.fields(f, g),
            (
                Kind::Enum {
                    variants: v,
                    repr: r,
                },
                Kind::Enum {
                    variants: w,
                    repr: q,
                },
            ) => {
                // The discriminants' type and values decide what the bytes mean.
                r == q
                    && v.len() == w.len()
                    && v.iter().zip(w).all(|(x, y)| {
                        x.name == y.name
                            && x.discriminant == y.discriminant
                            && self.fields(&x.fields, &y.fields)
                    })
            }
            (Kind::Array { elem: x, len: n }, Kind::Array { elem: y, len: m }) => {
                n == m && self.same(x, y)
            }
            (Kind::Container { name: x, args: p }, Kind::Container { name: y, args: q }) => {
                x == y && p.len() == q.len() && p.iter().zip(q).all(|(s, t)| self.same(s, t))
            }
            _ => false,
        }
    }

    fn fields(&mut self, f: &[Field], g: &[Field]) -> bool {
        f.len() == g.len()
            && f.iter().zip(g).all(|(x, y)| {
                x.name == y.name
                    && x.offset == y.offset
                    && x.skip == y.skip
                    && x.keep == y.keep
                    && self.same(&x.ty, &y.ty)
            })
    }
}

/// Whether an opaque key is a zero-sized hasher builder's with the
/// fingerprint of its hashes (`path#hasher#<hex>`): no bytes to misread, and
/// the same hash function.
fn fingerprinted_zero_sized(key: &str, size: u64) -> bool {
    size == 0
        && key
            .rsplit_once("#hasher#")
            .is_some_and(|(_, fp)| fp.len() == 16 && fp.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether an opaque type key (`path#skipped`, `path#hasher`) names only std types,
/// primitives and `dyn`/`fn`/`&` syntax, so that one name is one definition.
fn fixed_by_the_compiler(key: &str) -> bool {
    const WORDS: [&str; 25] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "bool", "char", "str", "dyn", "fn", "mut", "const", "static", "skipped",
        "hasher", "",
    ];
    key.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .all(|path| match path.split_once("::") {
            Some((first, _)) => matches!(first, "core" | "alloc" | "std"),
            None => WORDS.contains(&path) || path.chars().all(|c| c.is_ascii_digit()),
        })
}

#[cfg(test)]
mod tests {
    use super::fixed_by_the_compiler;

    #[test]
    fn only_std_names_are_one_definition() {
        for fixed in [
            "core::option::Option<std::fs::File>#skipped",
            "alloc::sync::Arc<std::sync::mutex::Mutex<alloc::vec::Vec<u8>>>#skipped",
            "alloc::boxed::Box<dyn core::ops::function::Fn(u32) -> bool + core::marker::Send>#skipped",
            "[u8; 16]#skipped",
            "&'static str#skipped",
        ] {
            assert!(fixed_by_the_compiler(fixed), "{fixed}");
        }
        for open in [
            "app::Window#skipped",
            "core::option::Option<winit::window::Window>#skipped",
            "alloc::vec::Vec<app::Handle>#skipped",
            "Handle#skipped",
        ] {
            assert!(!fixed_by_the_compiler(open), "{open}");
        }
    }
}
