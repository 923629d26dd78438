//! Saving then loading is the identity, for every `State` impl of the std
//! types and for derived structs and enums, nested: a checkpoint or a
//! migration that keeps a type brings back exactly the value it saved
//! (`Some(None)` stays `Some(None)`, a NaN keeps its bits).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use relive::State;
use relive::state::{Carry, Load};

/// Saves and loads as the runtime does (`relive_save`, `relive_load`).
fn round_trip<T: State>(value: &T) -> T {
    let bytes = rmp_serde::to_vec_named(&Carry(value)).expect("save");
    rmp_serde::from_slice::<Load<T>>(&bytes).expect("load").0
}

fn same<T: State + PartialEq + Debug>(value: T) -> Result<(), TestCaseError> {
    prop_assert_eq!(round_trip(&value), value);
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, relive::State)]
enum Shape {
    Dot,
    One(Option<()>),
    Pair(Option<Option<u8>>, ()),
    Named {
        a: Option<Option<String>>,
        b: Option<Box<Option<()>>>,
    },
}

#[derive(Debug, Clone, PartialEq, relive::State)]
struct Nested {
    unit: (),
    maybe: Option<Option<u32>>,
    shapes: Vec<Option<Shape>>,
    queue: VecDeque<Option<()>>,
    boxed: Box<Option<Option<i64>>>,
    by_name: HashMap<String, Option<Option<Shape>>>,
    by_key: BTreeMap<Option<u16>, Vec<Option<()>>>,
    tags: HashSet<Option<char>>,
    ordered: BTreeSet<(u8, Option<()>)>,
    grid: [Option<Option<u8>>; 3],
    tuple: (u8, Option<()>, String, i128, u128, bool),
    six: (u16, u32, u64, usize, isize, i8),
    path: PathBuf,
    time: Duration,
    text: &'static str,
}

fn opt<T: Debug + Clone>(inner: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    prop::option::of(inner)
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Dot),
        opt(Just(())).prop_map(Shape::One),
        opt(opt(any::<u8>())).prop_map(|a| Shape::Pair(a, ())),
        (opt(opt(".{0,4}")), opt(opt(Just(())).prop_map(Box::new)))
            .prop_map(|(a, b)| Shape::Named { a, b }),
    ]
}

fn nested() -> impl Strategy<Value = Nested> {
    let containers = (
        opt(opt(any::<u32>())),
        prop::collection::vec(opt(shape()), 0..4),
        prop::collection::vec_deque(opt(Just(())), 0..4),
        opt(opt(any::<i64>())).prop_map(Box::new),
        prop::collection::hash_map(".{0,3}", opt(opt(shape())), 0..3),
        prop::collection::btree_map(
            opt(any::<u16>()),
            prop::collection::vec(opt(Just(())), 0..3),
            0..3,
        ),
        prop::collection::hash_set(opt(any::<char>()), 0..3),
        prop::collection::btree_set((any::<u8>(), opt(Just(()))), 0..3),
        [
            opt(opt(any::<u8>())),
            opt(opt(any::<u8>())),
            opt(opt(any::<u8>())),
        ],
    );
    let scalars = (
        (
            any::<u8>(),
            opt(Just(())),
            ".{0,6}",
            any::<i128>(),
            any::<u128>(),
            any::<bool>(),
        ),
        any::<(u16, u32, u64, usize, isize, i8)>(),
        ".{0,8}".prop_map(PathBuf::from),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        prop::sample::select(vec!["", "pinned", "ünïcödé"]),
    );
    (containers, scalars).prop_map(
        |(
            (maybe, shapes, queue, boxed, by_name, by_key, tags, ordered, grid),
            (tuple, six, path, time, text),
        )| Nested {
            unit: (),
            maybe,
            shapes,
            queue,
            boxed,
            by_name,
            by_key,
            tags,
            ordered,
            grid,
            tuple,
            six,
            path,
            time,
            text,
        },
    )
}

proptest! {
    #[test]
    fn options_of_units_and_options_load_back_as_saved(
        a in opt(opt(any::<u32>())),
        b in opt(Just(())),
        c in opt(opt(opt(Just(())))),
        d in opt(opt(Just(())).prop_map(Box::new)),
    ) {
        same(a)?;
        same(b)?;
        same(c)?;
        same(d)?;
    }

    #[test]
    fn derived_types_of_every_std_impl_load_back_as_saved(value in nested()) {
        same(value)?;
    }

    #[test]
    fn numbers_load_back_with_their_bits(
        ints in any::<(u8, u16, u32, u64, u128, usize)>(),
        signed in any::<(i8, i16, i32, i64, i128, isize)>(),
        others in any::<(bool, char, String)>(),
        floats in prop::collection::vec((any::<u32>(), any::<u64>()), 0..8),
    ) {
        same(ints)?;
        same(signed)?;
        same(others)?;
        // Every bit pattern, NaN payloads and signed zeros included.
        let values: Vec<(f32, Option<f64>)> = floats
            .iter()
            .map(|&(a, b)| (f32::from_bits(a), Some(f64::from_bits(b))))
            .collect();
        let back = round_trip(&values);
        let bits = |v: &[(f32, Option<f64>)]| -> Vec<(u32, Option<u64>)> {
            v.iter().map(|(a, b)| (a.to_bits(), b.map(f64::to_bits))).collect()
        };
        prop_assert_eq!(bits(&back), bits(&values));
    }
}

#[test]
fn the_cases_that_came_back_as_none() {
    assert_eq!(round_trip(&Some(None::<u32>)), Some(None));
    assert_eq!(round_trip(&Some(())), Some(()));
}
