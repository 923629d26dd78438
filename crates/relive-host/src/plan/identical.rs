//! Whether two types' bytes mean the same: same kind, size, alignment, field
//! names, offsets and field types, all the way down.

use std::collections::HashSet;

use relive_abi::layout::{Field, Kind, Layout};

/// Compares types of an old and a new layout.
pub(super) struct Identical<'a> {
    old: &'a Layout,
    new: &'a Layout,
    /// Pairs being compared further up (a type that contains itself):
    /// assumed identical, which holds if nothing else differs.
    assumed: HashSet<(String, String)>,
}

impl<'a> Identical<'a> {
    pub(super) fn new(old: &'a Layout, new: &'a Layout) -> Self {
        Identical {
            old,
            new,
            assumed: HashSet::new(),
        }
    }

    /// Whether old type `a` and new type `b` have the same bytes.
    pub(super) fn same(&mut self, a: &str, b: &str) -> bool {
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
        let same = match (&old.kind, &new.kind) {
            (Kind::Scalar, Kind::Scalar) | (Kind::Pinned { .. }, Kind::Pinned { .. }) => a == b,
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
        };
        if !same {
            self.assumed.remove(&pair);
        }
        same
    }

    fn fields(&mut self, f: &[Field], g: &[Field]) -> bool {
        f.len() == g.len()
            && f.iter().zip(g).all(|(x, y)| {
                x.name == y.name
                    && x.offset == y.offset
                    && x.skip == y.skip
                    && (x.skip || self.same(&x.ty, &y.ty))
            })
    }
}
