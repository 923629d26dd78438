//! [`State`] for more std types: `BinaryHeap`, `Range`, the `NonZero`
//! integers, `Wrapping`, `Reverse`, `PhantomData`, `Cow<'static, str>`,
//! `Box<[T]>`, `Cell` and `RefCell`.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::marker::PhantomData;
use std::mem::offset_of;
use std::num::Wrapping;
use std::ops::Range;

use relive_abi::layout::Kind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::state::{Carry, LayoutBuilder, Load, Skipped, State};
use crate::std_impls::{container, reset_each, scalar, set_container};

scalar!(true, unit false:
    std::num::NonZeroU8, std::num::NonZeroU16, std::num::NonZeroU32, std::num::NonZeroU64,
    std::num::NonZeroU128, std::num::NonZeroUsize, std::num::NonZeroI8, std::num::NonZeroI16,
    std::num::NonZeroI32, std::num::NonZeroI64, std::num::NonZeroI128, std::num::NonZeroIsize
);

set_container!("BinaryHeap", [T: State + Ord], BinaryHeap<T>, [T]);
container!("Box<[]>", [T: State], Box<[T]>, [T],
    pins |v, f| v.iter().for_each(|x| x.visit_pins(f)),
    reset |v, skipped| reset_each::<T>(v.iter_mut(), skipped),
    snapshot |s| s.iter().map(State::snapshot).collect(),
    save |v, s| s.collect_seq(v.iter().map(Carry)),
    load |d| Vec::<T>::load(d).map(Vec::into_boxed_slice));
// A `Cow::Borrowed` may point into the read-only data of the library that
// made it: the `&'static str` parameter makes the plan pin it.
container!(
    "Cow",
    [],
    Cow<'static, str>,
    [&'static str],
    pins | v,
    f | if let Cow::Borrowed(text) = v {
        text.visit_pins(f)
    },
    reset | _v,
    _skipped | {},
    snapshot | s | s.clone(),
    save | v,
    s | s.serialize_str(v),
    load | d | String::deserialize(d).map(Cow::Owned)
);
container!("RefCell", [T: State], RefCell<T>, [T],
    pins |v, f| v.borrow().visit_pins(f),
    reset |v, skipped| reset_each::<T>(std::iter::once(v.get_mut()), skipped),
    snapshot |s| RefCell::new(s.borrow().snapshot()),
    save |v, s| v.borrow().save(s),
    load |d| T::load(d).map(RefCell::new));

// SAFETY: `Cell<T>` has the layout of `T` (it is `repr(transparent)`), so it
// is described as `T`'s single field at offset 0.
unsafe impl<T: State> State for Cell<T> {
    const POD: bool = T::POD;

    fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
        // SAFETY: as in `snapshot`.
        unsafe { &*self.as_ptr() }.visit_pins(visit)
    }
    fn reset_skipped(&mut self, skipped: &Skipped) {
        reset_each::<T>(std::iter::once(self.get_mut()), skipped);
    }

    fn describe(layout: &mut LayoutBuilder) -> String {
        layout.add::<Self>(|layout| Kind::Struct {
            fields: vec![layout.field::<T>("0", 0)],
        })
    }
    fn snapshot(&self) -> Self {
        // SAFETY: a `Cell` is not `Sync`, so no other thread writes it, and
        // nothing in this call does: the shared read ends before it returns.
        Cell::new(unsafe { &*self.as_ptr() }.snapshot())
    }
    fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // SAFETY: as in `snapshot`.
        unsafe { &*self.as_ptr() }.save(serializer)
    }
    fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::load(deserializer).map(Cell::new)
    }
}

/// `State` for a newtype of the std whose field `0` is all of it.
macro_rules! newtype {
    ($($ty:ident),*) => {$(
        // SAFETY: the field's offset comes from `offset_of!`; the type is
        // plain data exactly when its field is.
        unsafe impl<T: State> State for $ty<T> {
            const POD: bool = T::POD;

            fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
                self.0.visit_pins(visit)
            }
            fn reset_skipped(&mut self, skipped: &Skipped) {
                reset_each::<T>(std::iter::once(&mut self.0), skipped);
            }

            fn describe(layout: &mut LayoutBuilder) -> String {
                layout.add::<Self>(|layout| Kind::Struct {
                    fields: vec![layout.field::<T>("0", offset_of!(Self, 0))],
                })
            }
            fn snapshot(&self) -> Self {
                $ty(self.0.snapshot())
            }
            fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.save(serializer)
            }
            fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                T::load(deserializer).map($ty)
            }
        }
    )*};
}

newtype!(Wrapping, Reverse);

// SAFETY: a `PhantomData` has no bytes; its key names its parameter.
unsafe impl<T: 'static> State for PhantomData<T> {
    const POD: bool = true;

    fn describe(layout: &mut LayoutBuilder) -> String {
        layout.scalar::<Self>()
    }
    fn snapshot(&self) -> Self {
        PhantomData
    }
    fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
    fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <()>::deserialize(deserializer).map(|()| PhantomData)
    }
}

// SAFETY: the field offsets come from `offset_of!`.
unsafe impl<T: State> State for Range<T> {
    const POD: bool = T::POD;

    fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
        self.start.visit_pins(visit);
        self.end.visit_pins(visit);
    }
    fn reset_skipped(&mut self, skipped: &Skipped) {
        reset_each::<T>([&mut self.start, &mut self.end].into_iter(), skipped);
    }

    fn describe(layout: &mut LayoutBuilder) -> String {
        layout.add::<Self>(|layout| Kind::Struct {
            fields: vec![
                layout.field::<T>("start", offset_of!(Self, start)),
                layout.field::<T>("end", offset_of!(Self, end)),
            ],
        })
    }
    fn snapshot(&self) -> Self {
        self.start.snapshot()..self.end.snapshot()
    }
    fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut state = serializer.serialize_struct("Range", 2)?;
        state.serialize_field("start", &Carry(&self.start))?;
        state.serialize_field("end", &Carry(&self.end))?;
        state.end()
    }
    fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "T: State")]
        struct Shadow<T> {
            start: Load<T>,
            end: Load<T>,
        }
        let shadow = Shadow::<T>::deserialize(deserializer)?;
        Ok(shadow.start.0..shadow.end.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::num::NonZeroU32;

    use super::*;

    fn round_trip<T: State>(value: &T) -> T {
        let bytes = rmp_serde::to_vec_named(&Carry(value)).expect("save");
        rmp_serde::from_slice::<Load<T>>(&bytes).expect("load").0
    }

    #[test]
    fn more_std_types_save_load_and_snapshot() {
        let heap: BinaryHeap<u32> = [3, 1, 2].into_iter().collect();
        assert_eq!(round_trip(&heap).into_sorted_vec(), vec![1, 2, 3]);
        assert_eq!(round_trip(&(2u8..7)), 2..7);
        let nz = NonZeroU32::new(9).expect("non-zero");
        assert_eq!(round_trip(&nz), nz);
        assert_eq!(round_trip(&Wrapping(5i16)), Wrapping(5));
        assert_eq!(round_trip(&Reverse('x')), Reverse('x'));
        assert_eq!(round_trip(&PhantomData::<String>), PhantomData);
        let cow: Cow<'static, str> = Cow::Borrowed("pinned");
        assert_eq!(round_trip(&cow), "pinned");
        let slice: Box<[String]> = vec!["a".to_string(), "b".into()].into_boxed_slice();
        assert_eq!(round_trip(&slice), slice);
        let cell = Cell::new(4u64);
        assert_eq!(round_trip(&cell).get(), 4);
        let refcell = RefCell::new(vec![1u8, 2]);
        let copy = refcell.snapshot();
        refcell.borrow_mut().push(3);
        assert_eq!(*copy.borrow(), vec![1, 2]);
        assert_eq!(*round_trip(&refcell).borrow(), vec![1, 2, 3]);
    }

    #[test]
    fn plain_newtypes_are_plain_and_cows_are_pinned() {
        const { assert!(<Wrapping<u32> as State>::POD && <Range<f32> as State>::POD) };
        const { assert!(!<RefCell<u32> as State>::POD) };
        let layout = LayoutBuilder::layout_of::<Cow<'static, str>>();
        assert!(
            layout
                .types
                .values()
                .any(|t| matches!(t.kind, Kind::Pinned { .. })),
            "a Cow may borrow from the library: {layout:?}"
        );
        let map: HashMap<u64, u64, std::hash::BuildHasherDefault<std::hash::DefaultHasher>> =
            [(1, 2)].into_iter().collect();
        assert_eq!(round_trip(&map), map);
    }

    #[test]
    fn maps_with_different_hashers_are_different_types() {
        type Fixed = std::hash::BuildHasherDefault<std::hash::DefaultHasher>;
        let fixed = LayoutBuilder::layout_of::<HashMap<u64, u64, Fixed>>();
        let random = LayoutBuilder::layout_of::<HashMap<u64, u64>>();
        let args = |layout: &relive_abi::layout::Layout| match &layout.types[&layout.root].kind {
            Kind::Container { args, .. } => args.clone(),
            other => panic!("not a container: {other:?}"),
        };
        assert_eq!(args(&fixed).len(), 3);
        assert_ne!(args(&fixed), args(&random));
    }
}
