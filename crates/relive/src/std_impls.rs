//! [`State`] for the std types a state usually holds: numbers, `bool`,
//! `char`, `String`, the std collections, `Option`, `Box`, arrays, tuples,
//! and the two kinds of values that point into the library that made them:
//! `&'static str` and `fn` pointers.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::mem::offset_of;

use relive_abi::layout::Kind;
use std::any::TypeId;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::state::{Carry, LayoutBuilder, Load, Skipped, State};

macro_rules! scalar {
    ($pod:literal, unit $unit:literal: $($t:ty),*) => {$(
        // SAFETY: a scalar's size and alignment are all its layout; the plain
        // ones are copyable bit for bit.
        unsafe impl State for $t {
            const POD: bool = $pod;
            const SAVES_AS_UNIT: bool = $unit;

            fn describe(layout: &mut LayoutBuilder) -> String {
                layout.scalar::<$t>()
            }
            fn snapshot(&self) -> Self {
                self.clone()
            }
            fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.serialize(serializer)
            }
            fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <$t>::deserialize(deserializer)
            }
        }
    )*};
}

scalar!(true, unit false:
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool, char,
    std::time::Duration
);
scalar!(true, unit true: ());
scalar!(false, unit false: String, std::path::PathBuf);

macro_rules! container {
    (
        $name:literal, [$($generics:tt)*], $ty:ty, [$($p:ty),+],
        pins |$pv:ident, $pf:ident| $pins:expr,
        $(unit: $unit:expr,)?
        reset |$r:ident, $k:ident| $reset:expr,
        snapshot |$s:ident| $copy:expr,
        save |$v:ident, $ser:ident| $save:expr,
        load |$de:ident| $load:expr
    ) => {
        // SAFETY: the container's own layout is fixed by the compiler, which the
        // handshake pins; its parameters describe themselves.
        unsafe impl<$($generics)*> State for $ty {
            $(const SAVES_AS_UNIT: bool = $unit;)?
            fn reset_skipped(&mut self, skipped: &Skipped) {
                let ($r, $k) = (self, skipped);
                $reset
            }
            fn describe(layout: &mut LayoutBuilder) -> String {
                let args = vec![$(<$p>::describe(layout)),+];
                layout.container::<Self>($name, args)
            }
            fn visit_pins(&self, $pf: &mut dyn FnMut(usize, bool)) {
                if false $(|| <$p as State>::may_pin())+ {
                    let $pv = self;
                    $pins
                }
            }
            fn snapshot(&self) -> Self {
                let $s = self;
                $copy
            }
            fn save<S: Serializer>(&self, $ser: S) -> Result<S::Ok, S::Error> {
                let $v = self;
                $save
            }
            fn load<'de, D: Deserializer<'de>>($de: D) -> Result<Self, D::Error> {
                $load
            }
        }
    };
}

container!("Vec", [T: State], Vec<T>, [T],
    pins |v, f| v.iter().for_each(|x| x.visit_pins(f)),
    reset |v, skipped| reset_each::<T>(v.iter_mut(), skipped),
    snapshot |s| if T::POD { copy_pod(s) } else { s.iter().map(State::snapshot).collect() },
    save |v, s| match as_bytes(v) {
        Some(bytes) => s.serialize_bytes(bytes),
        None => s.collect_seq(v.iter().map(Carry)),
    },
    load |d| d.deserialize_any(Elements::<T>(std::marker::PhantomData)));
container!("VecDeque", [T: State], VecDeque<T>, [T],
    pins |v, f| v.iter().for_each(|x| x.visit_pins(f)),
    reset |v, skipped| reset_each::<T>(v.iter_mut(), skipped),
    snapshot |s| s.iter().map(State::snapshot).collect(),
    save |v, s| s.collect_seq(v.iter().map(Carry)),
    load |d| Ok(Vec::<Load<T>>::deserialize(d)?.into_iter().map(|l| l.0).collect()));
container!("Option", [T: State], Option<T>, [T],
    pins |v, f| v.iter().for_each(|x| x.visit_pins(f)),
    unit: true,
    reset |v, skipped| reset_each::<T>(v.iter_mut(), skipped),
    snapshot |s| s.as_ref().map(State::snapshot),
    save |v, s| save_option(v, s),
    load |d| load_option(d));
container!("Box", [T: State], Box<T>, [T],
    pins |v, f| T::visit_pins(v, f),
    unit: T::SAVES_AS_UNIT,
    reset |v, skipped| reset_each::<T>(std::iter::once(&mut **v), skipped),
    snapshot |s| Box::new(T::snapshot(s)),
    save |v, s| T::save(v, s),
    load |d| T::load(d).map(Box::new));
/// `State` for a set-like collection of `T`: elements saved as a sequence,
/// and rebuilt when an element hides a skipped field (it may decide where
/// the element sits).
macro_rules! set_container {
    ($name:literal, [$($generics:tt)*], $ty:ty, [$($p:ty),+]) => {
        $crate::std_impls::container!($name, [$($generics)*], $ty, [$($p),+],
            pins |v, f| v.iter().for_each(|x| x.visit_pins(f)),
            reset |v, skipped| if skipped.inside::<T>() {
                *v = std::mem::take(v).into_iter().map(|mut t| { t.reset_skipped(skipped); t }).collect();
            },
            snapshot |s| s.iter().map(State::snapshot).collect(),
            save |v, s| s.collect_seq(v.iter().map(Carry)),
            load |d| Ok(Vec::<Load<T>>::deserialize(d)?.into_iter().map(|l| l.0).collect()));
    };
}

/// `State` for a map from `K` to `V`, loaded through `$load` (the same map
/// over `Load<K>`, `Load<V>`): entries saved as a map, and the map rebuilt
/// when a key hides a skipped field.
macro_rules! map_container {
    ($name:literal, [$($generics:tt)*], $ty:ty, [$($p:ty),+], load $load:ty) => {
        $crate::std_impls::container!($name, [$($generics)*], $ty, [$($p),+],
            pins |v, f| v.iter().for_each(|(k, x)| {
                k.visit_pins(f);
                x.visit_pins(f);
            }),
            reset |m, skipped| if skipped.inside::<K>() {
                *m = std::mem::take(m).into_iter().map(|mut e| { reset_entry(&mut e, skipped); e }).collect();
            } else {
                reset_each::<V>(m.values_mut(), skipped);
            },
            snapshot |s| s.iter().map(|(k, v)| (k.snapshot(), v.snapshot())).collect(),
            save |v, s| s.collect_map(v.iter().map(|(k, v)| (Carry(k), Carry(v)))),
            load |d| Ok(<$load>::deserialize(d)?
                .into_iter()
                .map(|(k, v)| (k.0, v.0))
                .collect()));
    };
}

set_container!("HashSet", [T: State + Eq + Hash, H: BuildHasher + Default + 'static],
    HashSet<T, H>, [T, Hasher<H>]);
set_container!("BTreeSet", [T: State + Ord], BTreeSet<T>, [T]);
map_container!("HashMap", [K: State + Eq + Hash, V: State, H: BuildHasher + Default + 'static],
    HashMap<K, V, H>, [K, V, Hasher<H>], load HashMap<Load<K>, Load<V>, H>);
map_container!("BTreeMap", [K: State + Ord, V: State], BTreeMap<K, V>, [K, V],
    load BTreeMap<Load<K>, Load<V>>);

/// The hasher builder of a map or set, as one of its type parameters. It is
/// described by name only (`Opaque`, key `path#hasher`), so that two maps
/// with different hashers are never identical; a migration rebuilds the
/// table with the new code's builder. The host moves a map's bytes with its
/// builder only when one name is one definition: a std builder (its
/// definition is fixed by the compiler), or a zero-sized one (no bytes to
/// misread), whose key then carries a fingerprint of the hashes it makes,
/// so that a changed hash function is never "identical". Never a value of
/// its own.
pub(crate) struct Hasher<H>(std::marker::PhantomData<H>);

/// Hashes of a few probe values, for a zero-sized builder's key.
fn hash_fingerprint<H: BuildHasher + Default>() -> u64 {
    let builder = H::default();
    [0u64, 1, 0x9e37_79b9_7f4a_7c15, u64::MAX]
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |acc, probe| {
            (acc ^ builder.hash_one(probe)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

// SAFETY: only `describe` is ever called (the containers describe their
// hasher through it); it describes `H` as opaque, which the host moves as
// bytes only under the rules above.
unsafe impl<H: BuildHasher + Default + 'static> State for Hasher<H> {
    /// A hasher builder holds no pointer into code: a map's entries are
    /// visited only when its keys or values may hold one.
    fn may_pin() -> bool {
        false
    }
    fn describe(layout: &mut LayoutBuilder) -> String {
        let name = std::any::type_name::<H>();
        let key = if size_of::<H>() == 0 {
            format!("{name}#hasher#{:016x}", hash_fingerprint::<H>())
        } else {
            format!("{name}#hasher")
        };
        layout.add_keyed::<H>(key, Kind::Opaque)
    }
    fn snapshot(&self) -> Self {
        Hasher(std::marker::PhantomData)
    }
    fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
    fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <()>::deserialize(deserializer).map(|()| Hasher(std::marker::PhantomData))
    }
}

#[cfg(feature = "indexmap")]
pub(crate) use map_container;
pub(crate) use {container, scalar, set_container};

/// Resets the skipped fields of each item, if `T` hides any.
pub(crate) fn reset_each<'a, T: State>(items: impl Iterator<Item = &'a mut T>, skipped: &Skipped) {
    if skipped.inside::<T>() {
        items.for_each(|item| item.reset_skipped(skipped));
    }
}

/// Resets a map entry whose key hides skipped fields (the map is made
/// again: they may decide where the key sits).
pub(crate) fn reset_entry<K: State, V: State>((k, v): &mut (K, V), skipped: &Skipped) {
    k.reset_skipped(skipped);
    if skipped.inside::<V>() {
        v.reset_skipped(skipped);
    }
}

/// `None` is serde's none and `Some(x)` is `x`, except when `x` may itself
/// be saved as a unit or a none: then `Some(x)` is the sequence `[x]`.
fn save_option<T: State, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        None => serializer.serialize_none(),
        Some(x) if T::SAVES_AS_UNIT => serializer.serialize_some(&(Carry(x),)),
        Some(x) => serializer.serialize_some(&Carry(x)),
    }
}

/// Reads what [`save_option`] wrote.
fn load_option<'de, T: State, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    if T::SAVES_AS_UNIT {
        Ok(Option::<(Load<T>,)>::deserialize(deserializer)?.map(|(l,)| l.0))
    } else {
        Ok(Option::<Load<T>>::deserialize(deserializer)?.map(|l| l.0))
    }
}

/// A copy of a slice of plain data: one `memcpy`.
fn copy_pod<T: State>(items: &[T]) -> Vec<T> {
    debug_assert!(T::POD);
    let mut out = Vec::with_capacity(items.len());
    // SAFETY: `T::POD` promises that a bitwise copy is a valid, independent
    // value; `out` has room for `len` elements and they are all written.
    unsafe {
        std::ptr::copy_nonoverlapping(items.as_ptr(), out.as_mut_ptr(), items.len());
        out.set_len(items.len());
    }
    out
}

/// The elements as bytes when `T` is `u8`: a `Vec<u8>` (an image, a
/// buffer) is saved as one binary blob, at `memcpy` speed, not byte by byte.
fn as_bytes<T: 'static>(items: &[T]) -> Option<&[u8]> {
    (TypeId::of::<T>() == TypeId::of::<u8>()).then(|| {
        // SAFETY: T is u8, so the slice is `len` initialised bytes.
        unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), items.len()) }
    })
}

/// Loads a sequence saved either element by element or as a byte blob (a
/// `Vec<u8>` loaded as a `Vec<u8>`, or widened to, say, `Vec<u16>`).
struct Elements<T>(std::marker::PhantomData<T>);

impl<'de, T: State> Visitor<'de> for Elements<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(Load(item)) = seq.next_element::<Load<T>>()? {
            out.push(item);
        }
        Ok(out)
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Vec<T>, E> {
        if TypeId::of::<T>() == TypeId::of::<u8>() {
            let mut copy = std::mem::ManuallyDrop::new(bytes.to_vec());
            let (ptr, len, cap) = (copy.as_mut_ptr(), copy.len(), copy.capacity());
            // SAFETY: T is u8: the same allocation, length and capacity.
            return Ok(unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, cap) });
        }
        bytes
            .iter()
            .map(|&b| T::load(serde::de::value::U8Deserializer::<E>::new(b)))
            .collect()
    }

    fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Vec<T>, E> {
        self.visit_bytes(&bytes)
    }
}

// SAFETY: an array is `N` elements of `T` in a row.
unsafe impl<T: State, const N: usize> State for [T; N] {
    const POD: bool = T::POD;
    fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
        if T::may_pin() {
            self.iter().for_each(|x| x.visit_pins(visit));
        }
    }
    fn reset_skipped(&mut self, skipped: &Skipped) {
        reset_each::<T>(self.iter_mut(), skipped);
    }

    fn describe(layout: &mut LayoutBuilder) -> String {
        layout.add::<Self>(|layout| Kind::Array {
            elem: T::describe(layout),
            len: N as u64,
        })
    }
    fn snapshot(&self) -> Self {
        std::array::from_fn(|i| self[i].snapshot())
    }
    fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(Carry))
    }
    fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<Load<T>>::deserialize(deserializer)?;
        let len = items.len();
        let items: Vec<T> = items.into_iter().map(|l| l.0).collect();
        items
            .try_into()
            .map_err(|_| D::Error::invalid_length(len, &format!("an array of {N}").as_str()))
    }
}

macro_rules! tuple {
    ($($p:ident $i:tt),+) => {
        // SAFETY: element offsets come from `offset_of!`.
        unsafe impl<$($p: State),+> State for ($($p,)+) {
            const POD: bool = true $(&& $p::POD)+;
            fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
                $(self.$i.visit_pins(visit);)+
            }
            fn reset_skipped(&mut self, skipped: &Skipped) {
                $(reset_each::<$p>(std::iter::once(&mut self.$i), skipped);)+
            }
            fn describe(layout: &mut LayoutBuilder) -> String {
                layout.add::<Self>(|layout| Kind::Tuple {
                    fields: vec![$(layout.field::<$p>(stringify!($i), offset_of!(Self, $i))),+],
                })
            }
            fn snapshot(&self) -> Self {
                ($(self.$i.snapshot(),)+)
            }
            fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ($(Carry(&self.$i),)+).serialize(serializer)
            }
            fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let loaded = <($(Load<$p>,)+)>::deserialize(deserializer)?;
                Ok(($(loaded.$i.0,)+))
            }
        }
    };
}

tuple!(A 0);
tuple!(A 0, B 1);
tuple!(A 0, B 1, C 2);
tuple!(A 0, B 1, C 2, T 3);
tuple!(A 0, B 1, C 2, T 3, E 4);
tuple!(A 0, B 1, C 2, T 3, E 4, F 5);

// SAFETY: a `&'static str` is a pointer and a length; it is described as
// pinned because it may point into the read-only data of the library that
// made it, which relive then keeps mapped.
unsafe impl State for &'static str {
    fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
        visit(self.as_ptr() as usize, false);
    }
    fn describe(layout: &mut LayoutBuilder) -> String {
        layout.pinned::<Self>("&'static str")
    }
    fn snapshot(&self) -> Self {
        self
    }
    fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
    /// A migrated `&'static str` is re-linked: it becomes a copy on the heap
    /// that lives as long as the program (a few bytes per migration).
    fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(String::deserialize(deserializer)?.leak())
    }
}

macro_rules! fn_pointer {
    ($($a:ident),*) => {
        // SAFETY: a `fn` pointer is one address; it is described as pinned,
        // with the layouts of its arguments and result in its key, so its
        // bytes move only between identical signatures, and the library it
        // points into stays mapped. It is never made from saved data.
        unsafe impl<R: State $(, $a: State)*> State for fn($($a),*) -> R {
            fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
                visit(*self as usize, false);
            }
            fn describe(layout: &mut LayoutBuilder) -> String {
                let fingerprint = crate::state::signature_fingerprint::<Self>(
                    layout,
                    crate::state::FNV_START,
                    |b| vec![$($a::describe(b),)* R::describe(b)],
                );
                layout.pinned_with::<Self>("fn pointer", fingerprint)
            }
            fn snapshot(&self) -> Self {
                *self
            }
            /// Only a placeholder is written (for a migration, which resets
            /// the field or is refused): an address is never saved.
            fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if crate::__rt::saving_portably() {
                    return Err(serde::ser::Error::custom(
                        "a fn pointer cannot be kept across a crash (it is an address in this process)",
                    ));
                }
                serializer.serialize_unit()
            }
            /// Always fails: a `fn` pointer made from saved data could point
            /// anywhere. A `#[relive(reset)]` field around it starts from
            /// `Default` instead.
            fn load<'de, D: Deserializer<'de>>(_deserializer: D) -> Result<Self, D::Error> {
                Err(D::Error::custom(
                    "a fn pointer cannot be made from saved data: mark the field #[relive(reset)] or restart",
                ))
            }
        }
    };
}

fn_pointer!();
fn_pointer!(A);
fn_pointer!(A, B);
fn_pointer!(A, B, C);
fn_pointer!(A, B, C, E);

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

    fn round_trip<T: State>(value: &T) -> T {
        let bytes = rmp_serde::to_vec_named(&Carry(value)).expect("save");
        rmp_serde::from_slice::<Load<T>>(&bytes).expect("load").0
    }

    #[test]
    fn std_types_save_and_load() {
        let mut map = HashMap::new();
        map.insert("k".to_string(), (1u8, -2i64));
        assert_eq!(round_trip(&map), map);
        let nested = vec![Some(Box::new([1.5f32, 2.5])), None];
        assert_eq!(round_trip(&nested), nested);
        let pixels: Vec<u8> = (0..=255).collect();
        assert_eq!(round_trip(&pixels), pixels);
        let bytes = rmp_serde::to_vec_named(&Carry(&pixels)).expect("save");
        assert!(bytes.len() < 300, "a Vec<u8> is saved as one blob");
        let widened: Vec<u16> = rmp_serde::from_slice::<Load<Vec<u16>>>(&bytes)
            .expect("widen")
            .0;
        assert_eq!(widened[255], 255);
        let set: BTreeSet<char> = "relive".chars().collect();
        assert_eq!(round_trip(&set), set);
        let text: &'static str = "pinned";
        assert_eq!(round_trip(&text), "pinned");
    }

    #[test]
    fn pinned_values_are_visited_inside_containers() {
        fn one() -> u8 {
            1
        }
        let text: &'static str = "here";
        let value: Vec<Option<(u32, &'static str)>> = vec![None, Some((3, text))];
        let map: BTreeMap<u8, fn() -> u8> = BTreeMap::from([(1, one as fn() -> u8)]);
        let mut seen = Vec::new();
        value.visit_pins(&mut |a, opaque| seen.push((a, opaque)));
        map.visit_pins(&mut |a, opaque| seen.push((a, opaque)));
        assert_eq!(
            seen,
            vec![
                (text.as_ptr() as usize, false),
                (one as fn() -> u8 as usize, false)
            ]
        );
        let nothing: Vec<Option<&'static str>> = vec![None, None];
        nothing.visit_pins(&mut |_, _| panic!("a None points nowhere"));
    }

    #[test]
    fn a_fn_pointer_is_never_made_from_saved_data() {
        fn double(x: i32) -> i32 {
            x * 2
        }
        let f: fn(i32) -> i32 = double;
        let bytes = rmp_serde::to_vec_named(&Carry(&f)).expect("a placeholder is saved");
        assert!(rmp_serde::from_slice::<Load<fn(i32) -> i32>>(&bytes).is_err());
        let number = rmp_serde::to_vec_named(&(double as fn(i32) -> i32 as usize as u64))
            .expect("an address as a number");
        assert!(
            rmp_serde::from_slice::<Load<fn(i32) -> i32>>(&number).is_err(),
            "a number never becomes a fn pointer"
        );
    }
}
