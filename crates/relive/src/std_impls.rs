//! [`State`] for the std types a state usually holds: numbers, `bool`,
//! `char`, `String`, the std collections, `Option`, `Box`, arrays and tuples.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::mem::offset_of;

use relive_abi::layout::Kind;

use crate::state::{LayoutBuilder, State};

macro_rules! scalar {
    ($($t:ty),*) => {$(
        // SAFETY: a scalar's size and alignment are all its layout.
        unsafe impl State for $t {
            fn describe(layout: &mut LayoutBuilder) -> String {
                layout.scalar::<$t>()
            }
            fn snapshot(&self) -> Self {
                self.clone()
            }
        }
    )*};
}

scalar!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    (),
    String,
    std::time::Duration,
    std::path::PathBuf
);

macro_rules! container {
    ($name:literal, [$($generics:tt)*], $ty:ty, [$($p:ident),+], |$s:ident| $copy:expr) => {
        // SAFETY: the container's own layout is fixed by the compiler, which the
        // handshake pins; its parameters describe themselves.
        unsafe impl<$($generics)*> State for $ty {
            fn describe(layout: &mut LayoutBuilder) -> String {
                let args = vec![$($p::describe(layout)),+];
                layout.container::<Self>($name, args)
            }
            fn snapshot(&self) -> Self {
                let $s = self;
                $copy
            }
        }
    };
}

container!("Vec", [T: State], Vec<T>, [T], |s| s.iter().map(State::snapshot).collect());
container!("VecDeque", [T: State], VecDeque<T>, [T], |s| s
    .iter()
    .map(State::snapshot)
    .collect());
container!("Option", [T: State], Option<T>, [T], |s| s.as_ref().map(State::snapshot));
container!("Box", [T: State], Box<T>, [T], |s| Box::new(T::snapshot(s)));
container!("HashSet", [T: State + Eq + Hash], HashSet<T>, [T], |s| s
    .iter()
    .map(State::snapshot)
    .collect());
container!("BTreeSet", [T: State + Ord], BTreeSet<T>, [T], |s| s
    .iter()
    .map(State::snapshot)
    .collect());
container!("HashMap", [K: State + Eq + Hash, V: State], HashMap<K, V>, [K, V], |s| s
    .iter()
    .map(|(k, v)| (k.snapshot(), v.snapshot()))
    .collect());
container!("BTreeMap", [K: State + Ord, V: State], BTreeMap<K, V>, [K, V], |s| s
    .iter()
    .map(|(k, v)| (k.snapshot(), v.snapshot()))
    .collect());

// SAFETY: an array is `N` elements of `T` in a row.
unsafe impl<T: State, const N: usize> State for [T; N] {
    fn describe(layout: &mut LayoutBuilder) -> String {
        layout.add::<Self>(|layout| Kind::Array {
            elem: T::describe(layout),
            len: N as u64,
        })
    }
    fn snapshot(&self) -> Self {
        std::array::from_fn(|i| self[i].snapshot())
    }
}

macro_rules! tuple {
    ($($p:ident $i:tt),+) => {
        // SAFETY: element offsets come from `offset_of!`.
        unsafe impl<$($p: State),+> State for ($($p,)+) {
            fn describe(layout: &mut LayoutBuilder) -> String {
                layout.add::<Self>(|layout| Kind::Tuple {
                    fields: vec![$(layout.field::<$p>(stringify!($i), offset_of!(Self, $i))),+],
                })
            }
            fn snapshot(&self) -> Self {
                ($(self.$i.snapshot(),)+)
            }
        }
    };
}

tuple!(A 0);
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, D 3);
tuple!(A 0, B 1, C 2, D 3, E 4);
tuple!(A 0, B 1, C 2, D 3, E 4, F 5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_containers_describe_every_type_once() {
        let layout = LayoutBuilder::layout_of::<Vec<Option<(u32, String)>>>();
        assert_eq!(
            layout.root,
            std::any::type_name::<Vec<Option<(u32, String)>>>()
        );
        assert!(layout.types.contains_key("u32"));
        assert!(layout.types.contains_key(std::any::type_name::<String>()));
        let tuple = &layout.types[std::any::type_name::<(u32, String)>()];
        match &tuple.kind {
            Kind::Tuple { fields } => {
                assert_eq!(fields.len(), 2);
                assert_eq!(fields[0].offset, offset_of!((u32, String), 0) as u64);
            }
            other => panic!("expected a tuple, got {other:?}"),
        }
    }

    #[test]
    fn snapshots_are_deep_copies() {
        let mut original: HashMap<String, Vec<u8>> = HashMap::new();
        original.insert("a".into(), vec![1, 2, 3]);
        let copy = original.snapshot();
        original.get_mut("a").expect("present").push(4);
        assert_eq!(copy["a"], vec![1, 2, 3]);
    }
}
