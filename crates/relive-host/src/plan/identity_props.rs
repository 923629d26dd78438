//! Properties of [`Identical`]: "identical" implies equal offsets, sizes,
//! discriminants and types everywhere, recursively. Checked two ways: on
//! generated layouts with one detail changed, and on a pool of real enums
//! whose variant field offsets are measured from values.

use std::collections::BTreeMap;

use proptest::prelude::*;
use relive_abi::layout::{Field, Kind, Layout, TypeDef, Variant};

use super::identical::Identical;
use super::tests::as_key;

/// A generated type: what it is made of, and its size and alignment.
#[derive(Clone, Debug)]
enum Shape {
    Scalar(&'static str),
    Struct(Vec<(u64, Shape)>),
    Enum(Vec<(i128, Vec<(u64, Shape)>)>, Vec<String>),
    Array(Box<Shape>, u64),
    Container(&'static str, Vec<Shape>),
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop::sample::select(vec!["u8", "u32", "f64", "bool"]).prop_map(Shape::Scalar);
    leaf.prop_recursive(4, 24, 4, |inner| {
        let fields = || prop::collection::vec((0u64..32, inner.clone()), 0..4);
        prop_oneof![
            fields().prop_map(Shape::Struct),
            (
                prop::collection::vec((-2i128..300, fields()), 1..4),
                prop::sample::subsequence(vec!["C".to_string(), "u8".to_string()], 0..=2),
            )
                .prop_map(|(v, r)| Shape::Enum(v, r)),
            (inner.clone(), 0u64..4).prop_map(|(e, n)| Shape::Array(Box::new(e), n)),
            (prop::sample::select(vec!["Vec", "Option"]), inner.clone())
                .prop_map(|(n, a)| Shape::Container(n, vec![a])),
        ]
    })
}

/// Adds `shape` to `types` under a key named by its position; returns the key.
fn add(shape: &Shape, at: &str, types: &mut BTreeMap<String, TypeDef>) -> String {
    let fields = |list: &[(u64, Shape)], at: &str, types: &mut BTreeMap<String, TypeDef>| {
        list.iter()
            .enumerate()
            .map(|(i, (offset, s))| Field {
                name: format!("f{i}"),
                offset: *offset,
                ty: add(s, &format!("{at}.{i}"), types),
                skip: false,
                reset: false,
                keep: false,
            })
            .collect::<Vec<_>>()
    };
    let (key, kind) = match shape {
        Shape::Scalar(name) => (name.to_string(), Kind::Scalar),
        Shape::Struct(list) => (
            at.to_string(),
            Kind::Struct {
                fields: fields(list, at, types),
            },
        ),
        Shape::Enum(variants, repr) => (
            at.to_string(),
            Kind::Enum {
                variants: variants
                    .iter()
                    .enumerate()
                    .map(|(i, (discriminant, list))| Variant {
                        name: format!("V{i}"),
                        discriminant: *discriminant,
                        fields: fields(list, &format!("{at}::{i}"), types),
                    })
                    .collect(),
                repr: repr.clone(),
            },
        ),
        Shape::Array(elem, len) => (
            at.to_string(),
            Kind::Array {
                elem: add(elem, &format!("{at}[]"), types),
                len: *len,
            },
        ),
        Shape::Container(name, args) => (
            at.to_string(),
            Kind::Container {
                name: name.to_string(),
                args: args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| add(a, &format!("{at}<{i}>"), types))
                    .collect(),
            },
        ),
    };
    let size = match shape {
        Shape::Scalar("u8" | "bool") => 1,
        Shape::Scalar("u32") => 4,
        _ => 8,
    };
    types.insert(
        key.clone(),
        TypeDef {
            size,
            align: size.min(8),
            kind,
        },
    );
    key
}

fn build(shape: &Shape) -> Layout {
    let mut types = BTreeMap::new();
    let root = add(shape, "app::All", &mut types);
    Layout { root, types }
}

/// The leaves (numbers, strings, booleans) of a JSON value, by path.
fn leaves(value: &serde_json::Value, path: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                leaves(v, format!("{path}/{k}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{path}/{i}"), out);
            }
        }
        _ => out.push(path),
    }
}

/// The layout with one leaf changed: a number plus one, a string with a
/// letter more, a boolean flipped. `None` when the result is no layout.
fn mutate(layout: &Layout, pick: usize) -> Option<Layout> {
    let mut value: serde_json::Value = serde_json::from_str(&layout.to_json()).ok()?;
    let mut paths = Vec::new();
    leaves(&value, String::new(), &mut paths);
    let path = paths.get(pick % paths.len().max(1))?;
    let leaf = value.pointer_mut(path)?;
    *leaf = match leaf.take() {
        serde_json::Value::Number(n) => serde_json::Value::from(n.as_u64()? + 1),
        serde_json::Value::String(s) => match s.parse::<i128>() {
            Ok(n) => serde_json::Value::from((n + 1).to_string()),
            Err(_) => serde_json::Value::from(format!("{s}x")),
        },
        serde_json::Value::Bool(b) => serde_json::Value::from(!b),
        _ => return None,
    };
    Layout::from_json(value.to_string().as_bytes()).ok()
}

/// What decides the bytes' meaning: everything but `reset`, which only says
/// what to do when a type changes.
fn meaning(layout: &Layout) -> Layout {
    let mut out = layout.clone();
    for def in out.types.values_mut() {
        let fields: Vec<&mut Field> = match &mut def.kind {
            Kind::Struct { fields } | Kind::Tuple { fields } => fields.iter_mut().collect(),
            Kind::Enum { variants, .. } => {
                variants.iter_mut().flat_map(|v| &mut v.fields).collect()
            }
            _ => Vec::new(),
        };
        for field in fields {
            field.reset = false;
        }
    }
    out
}

proptest! {
    #[test]
    fn identical_implies_equal_layouts_everywhere(shape in shape(), pick in any::<usize>()) {
        let old = build(&shape);
        prop_assert!(Identical::new(&old, &old).same(&old.root, &old.root));
        if let Some(new) = mutate(&old, pick)
            && Identical::new(&old, &new).same(&old.root, &new.root)
        {
            prop_assert_eq!(meaning(&old), meaning(&new));
        }
    }
}

/// A pool of enums with the same variant and field names under different
/// `repr`s, field orders and types; each measures its variants' field
/// offsets from real values.
macro_rules! pool {
    ($( $m:ident: $(#[$attr:meta])* { $( $v:ident { $($f:ident : $t:ty),* } $(= $d:literal)? ),* } )*) => {
        $(mod $m {
            #[derive(relive::State)]
            #[allow(dead_code)]
            $(#[$attr])*
            pub enum E { $( $v { $($f: $t),* } $(= $d)? ),* }

            /// `(variant.field, offset)` of every field, and the size.
            #[allow(unreachable_patterns, unused_variables)]
            pub fn measured() -> (Vec<(String, u64)>, usize) {
                let mut out = Vec::new();
                $({
                    let value = E::$v { $($f: <$t as Default>::default()),* };
                    let base = &raw const value as usize;
                    match &value {
                        E::$v { $($f),* } => {
                            $(out.push((
                                format!("{}.{}", stringify!($v), stringify!($f)),
                                (&raw const *$f as usize - base) as u64,
                            ));)*
                        }
                        _ => unreachable!(),
                    }
                })*
                (out, size_of::<E>())
            }
        })*

        fn pool() -> Vec<(&'static str, Layout, (Vec<(String, u64)>, usize))> {
            vec![$((stringify!($m), as_key::<$m::E>("app::E"), $m::measured())),*]
        }
    };
}

pool! {
    rust: { A { x: u8, y: u32 }, B { z: u64 } }
    rust_swapped: { A { y: u32, x: u8 }, B { z: u64 } }
    int: #[repr(u8)] { A { x: u8, y: u32 }, B { z: u64 } }
    int_wide: #[repr(u32)] { A { x: u8, y: u32 }, B { z: u64 } }
    int_explicit: #[repr(u8)] { A { x: u8, y: u32 } = 3, B { z: u64 } }
    c: #[repr(C)] { A { x: u8, y: u32 }, B { z: u64 } }
    c_int: #[repr(C, u8)] { A { x: u8, y: u32 }, B { z: u64 } }
    c_int_split: #[repr(u8)] #[repr(C)] { A { x: u8, y: u32 }, B { z: u64 } }
    c_int_aligned: #[repr(C, u8, align(32))] { A { x: u8, y: u32 }, B { z: u64 } }
    c_u16: #[repr(C, u16)] { A { x: u8, y: u32 }, B { z: u64 } }
    nested: #[repr(u8)] { A { x: Option<u8>, y: u32 }, B { z: u64 } }
    nested_c: #[repr(C)] { A { x: Option<u8>, y: u32 }, B { z: u64 } }
    with_unit: #[repr(C, u8)] { A { x: u8, y: u32 }, B { z: u64 }, C {} }
}

fn offsets(layout: &Layout) -> Vec<(String, u64)> {
    match &layout.types["app::E"].kind {
        Kind::Enum { variants, .. } => variants
            .iter()
            .flat_map(|v| {
                v.fields
                    .iter()
                    .map(|f| (format!("{}.{}", v.name, f.name), f.offset))
            })
            .collect(),
        other => panic!("not an enum: {other:?}"),
    }
}

#[test]
fn defined_layouts_record_the_measured_variant_offsets() {
    for (name, layout, (measured, size)) in pool() {
        let Kind::Enum { repr, .. } = &layout.types["app::E"].kind else {
            panic!("{name} is not an enum");
        };
        assert_eq!(layout.types["app::E"].size, size as u64, "{name}");
        if relive_abi::layout::defined_layout(repr.as_slice()) {
            assert_eq!(offsets(&layout), measured, "{name}");
        }
    }
}

#[test]
fn identical_enums_have_equal_measured_layouts() {
    let pool = pool();
    let mut identical_pairs = 0;
    for (a, old, measured_old) in &pool {
        for (b, new, measured_new) in &pool {
            if Identical::new(old, new).same("app::E", "app::E") {
                identical_pairs += 1;
                assert_eq!(
                    measured_old, measured_new,
                    "{a} -> {b} was called identical"
                );
            }
        }
    }
    // Each with itself, and the two spellings of `repr(C, u8)` both ways.
    assert_eq!(identical_pairs, pool.len() + 2);
}
