//! Table-driven checks of the layout comparison, on layouts produced by the
//! real `#[derive(relive::State)]`.

use std::collections::HashMap;

use relive::state::LayoutBuilder;

use super::*;

mod v1 {
    #[derive(Default, relive::State)]
    pub struct Particle {
        pub x: f32,
        pub tag: u32,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub frames: u64,
        pub name: String,
        pub particles: Vec<Particle>,
    }
}

mod appended {
    #[derive(Default, relive::State)]
    pub struct All {
        pub frames: u64,
        pub name: String,
        pub particles: Vec<super::v1::Particle>,
        pub speed: f64,
    }
}

mod reordered {
    #[derive(Default, relive::State)]
    pub struct All {
        pub particles: Vec<super::v1::Particle>,
        pub frames: u64,
    }
}

mod retyped_field {
    #[derive(Default, relive::State)]
    pub struct All {
        pub frames: u32,
        pub name: String,
        pub particles: Vec<super::v1::Particle>,
    }
}

mod nested_change {
    #[derive(Default, relive::State)]
    pub struct Particle {
        pub x: f32,
        pub tag: String,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub frames: u64,
        pub name: String,
        pub particles: Vec<Particle>,
    }
}

mod nested_insert {
    #[derive(Default, relive::State)]
    pub struct Particle {
        pub x: f32,
        pub mass: f64,
        pub tag: u64,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub name: String,
        pub frames: u64,
        pub particles: Vec<Particle>,
    }
}

mod pins {
    #[derive(Default, relive::State)]
    pub struct All {
        pub label: Option<&'static str>,
        pub step: Option<fn(f32) -> f32>,
        pub frames: u64,
    }
}

mod with_skip {
    #[derive(Default, relive::State)]
    pub struct Window {
        pub id: u32,
        #[relive(skip)]
        pub handle: Option<std::fs::File>,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub frames: u64,
        pub window: Window,
    }
}

mod with_map {
    use std::collections::HashMap;
    #[derive(Default, relive::State)]
    pub struct All {
        pub scores: HashMap<String, Option<Box<(u8, i64)>>>,
    }
}

mod with_map_changed {
    use std::collections::HashMap;
    #[derive(Default, relive::State)]
    pub struct All {
        pub scores: HashMap<String, Option<Box<(u8, i32)>>>,
    }
}

#[derive(Default, relive::State)]
pub struct Tree {
    pub value: u32,
    pub children: Vec<Tree>,
}

fn layout<T: relive::State>() -> Layout {
    LayoutBuilder::layout_of::<T>()
}

#[test]
fn identical_layouts_move_all_bytes() {
    let p = plan(&layout::<v1::All>(), &layout::<v1::All>()).expect("same type");
    assert_eq!(p.mode, Mode::Identical);
    let p = plan(&layout::<Tree>(), &layout::<Tree>()).expect("recursive type");
    assert_eq!(p.mode, Mode::Identical);
    let p = plan(&layout::<with_map::All>(), &layout::<with_map::All>()).expect("map");
    assert_eq!(p.mode, Mode::Identical);
}

#[test]
fn appended_fields_move_the_rest_and_default_the_new() {
    let old = layout::<v1::All>();
    let p = plan(&old, &layout::<appended::All>()).expect("append is allowed");
    assert_eq!(p.mode, Mode::Fields);
    assert_eq!(p.added, vec!["All.speed".to_string()]);
    assert!(p.removed.is_empty());
    assert_eq!(p.sources.len(), 4);
    assert_eq!(p.sources[3], -1);
    assert_eq!(p.sources[0], std::mem::offset_of!(v1::All, frames) as i64);
    assert_eq!(
        p.sources[2],
        std::mem::offset_of!(v1::All, particles) as i64
    );
}

#[test]
fn removed_and_reordered_fields_move_by_name() {
    let p = plan(&layout::<v1::All>(), &layout::<reordered::All>()).expect("by name");
    assert_eq!(p.mode, Mode::Fields);
    assert_eq!(p.removed, vec!["All.name".to_string()]);
    assert_eq!(p.drop_mask, vec![0, 1, 0]);
    assert_eq!(
        p.sources[0],
        std::mem::offset_of!(v1::All, particles) as i64
    );
    assert_eq!(p.sources[1], std::mem::offset_of!(v1::All, frames) as i64);
}

#[test]
fn changed_types_are_refused_naming_the_field_and_both_types() {
    let cases: Vec<(Layout, &str)> = vec![
        (layout::<retyped_field::All>(), "All.frames: u64 -> u32"),
        (
            layout::<nested_change::All>(),
            "All.particles[].tag: u32 -> String",
        ),
    ];
    for (new, expected) in cases {
        let err = plan(&layout::<v1::All>(), &new).expect_err("refused");
        assert!(
            err.0.starts_with(expected),
            "{} does not start with {expected}",
            err.0
        );
    }
    let err = plan(
        &layout::<with_map::All>(),
        &layout::<with_map_changed::All>(),
    )
    .expect_err("refused");
    assert!(err.0.starts_with("All.scores[].1: i64 -> i32"), "{}", err.0);
}

#[test]
fn nested_changes_migrate_by_name_with_widening() {
    let p = plan(&layout::<v1::All>(), &layout::<nested_insert::All>()).expect("migrates");
    assert_eq!(p.mode, Mode::Migrate);
    assert_eq!(p.added, vec!["All.particles[].mass".to_string()]);
    assert!(p.removed.is_empty());
    assert_eq!(
        p.widened,
        vec!["All.particles[].tag: u32 -> u64".to_string()]
    );
}

#[test]
fn pointers_into_the_old_library_pin_it() {
    let p = plan(&layout::<pins::All>(), &layout::<pins::All>()).expect("identical");
    assert_eq!(p.mode, Mode::Identical);
    assert_eq!(
        p.pinned,
        vec![
            "All.label (&'static str, pinned)".to_string(),
            "All.step (fn pointer, pinned)".to_string()
        ]
    );
    assert!(p.pins_old_generation());
    let p = plan(&layout::<v1::All>(), &layout::<v1::All>()).expect("identical");
    assert!(!p.pins_old_generation());
}

mod with_other_skip {
    #[derive(Default, relive::State)]
    pub struct Window {
        pub id: u32,
        #[relive(skip)]
        pub handle: Option<std::net::TcpStream>,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub frames: u64,
        pub window: Window,
    }
}

mod with_app_skip {
    #[derive(Default)]
    pub struct Handle(#[expect(dead_code, reason = "only its type matters")] pub Option<Box<u32>>);
    #[derive(Default, relive::State)]
    pub struct Window {
        pub id: u32,
        #[relive(skip)]
        pub handle: Handle,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub frames: u64,
        pub window: Window,
    }
}

#[test]
fn unchanged_layouts_with_skipped_fields_still_move_bytes() {
    let same = layout::<with_skip::All>();
    assert_eq!(plan(&same, &same).expect("plan").mode, Mode::Identical);
    // A skipped field whose type changed: its old value must not reach code
    // that would drop it as the new type.
    let other = moved::<with_other_skip::All>("with_other_skip", "with_skip");
    assert_eq!(other.types[&other.root].size, same.types[&same.root].size);
    assert_eq!(plan(&same, &other).expect("plan").mode, Mode::Migrate);
    // An app's own type may change under the same name: never moved.
    let app = layout::<with_app_skip::All>();
    assert_eq!(plan(&app, &app).expect("plan").mode, Mode::Migrate);
}

#[test]
fn map_types_are_described() {
    let l = layout::<HashMap<String, u8>>();
    assert!(
        matches!(l.root_def().map(|d| &d.kind), Some(Kind::Container { name, .. }) if name == "HashMap")
    );
}

#[relive::dyn_trait]
pub trait Pet: Send {
    fn boxed_clone(&self) -> Box<dyn Pet>;
}
relive::dyn_state!(Box<dyn Pet>, |p| p.boxed_clone());

mod with_pet {
    #[derive(Default, relive::State)]
    pub struct Inner {
        pub a: u32,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub pet: Option<Box<dyn super::Pet>>,
        pub inner: Inner,
    }
}

mod with_pet_changed {
    #[derive(Default, relive::State)]
    pub struct Inner {
        pub a: u32,
        pub b: u32,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub pet: Option<Box<dyn super::Pet>>,
        pub inner: Inner,
    }
}

#[test]
fn trait_objects_pin_and_cannot_be_migrated_by_name() {
    let p = plan(&layout::<with_pet::All>(), &layout::<with_pet::All>()).expect("identical");
    assert_eq!(p.mode, Mode::Identical);
    assert!(
        p.pinned
            .iter()
            .any(|x| x.starts_with("All.pet (trait object, pinned)")),
        "{:?}",
        p.pinned
    );
    let err = plan(
        &layout::<with_pet::All>(),
        &layout::<with_pet_changed::All>(),
    )
    .expect_err("refused");
    assert!(
        err.0
            .starts_with("All.pet: a trait object cannot be migrated"),
        "{}",
        err.0
    );
}

mod discriminants {
    pub mod before {
        #[derive(Default, relive::State)]
        #[repr(u8)]
        pub enum Mode {
            #[default]
            A = 0,
            B = 1,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub mode: Mode,
        }
    }
    pub mod after {
        #[derive(Default, relive::State)]
        #[repr(u8)]
        pub enum Mode {
            #[default]
            A = 1,
            B = 0,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub mode: Mode,
        }
    }
}

#[test]
fn changed_discriminants_are_not_moved_as_bytes() {
    use discriminants::{after, before};
    let same = plan(&layout::<before::All>(), &layout::<before::All>()).expect("same");
    assert_eq!(same.mode, Mode::Identical);
    let p = plan(&layout::<before::All>(), &layout::<after::All>()).expect("by name");
    assert_eq!(
        p.mode,
        Mode::Migrate,
        "variants are matched by name instead"
    );
}

mod traits {
    pub mod before {
        #[relive::dyn_trait]
        pub trait Shape: Send {
            fn area(&self) -> f64;
            fn boxed_clone(&self) -> Box<dyn Shape>;
        }
        relive::dyn_state!(Box<dyn Shape>, |s| s.boxed_clone());
        #[derive(Default, relive::State)]
        pub struct All {
            pub shape: Option<Box<dyn Shape>>,
        }
    }
    pub mod after {
        #[relive::dyn_trait]
        pub trait Shape: Send {
            fn colour(&self) -> u32;
            fn area(&self) -> f64;
            fn boxed_clone(&self) -> Box<dyn Shape>;
        }
        relive::dyn_state!(Box<dyn Shape>, |s| s.boxed_clone());
        #[derive(Default, relive::State)]
        pub struct All {
            pub shape: Option<Box<dyn Shape>>,
        }
    }
}

/// The layout of `T` with every type path under module `from` moved to `to`
/// (both named relative to this test module): two versions of a type kept
/// side by side in this crate become one type changed in place, with the
/// same key, as across a reload.
fn moved<T: relive::State>(from: &str, to: &str) -> Layout {
    let prefix = module_path!();
    let (from, to) = (format!("{prefix}::{from}::"), format!("{prefix}::{to}::"));
    layout_at::<T>(&[(&from, &to)])
}

#[test]
fn a_changed_trait_is_never_identical() {
    use traits::{after, before};
    let same = plan(&layout::<before::All>(), &layout::<before::All>()).expect("same");
    assert_eq!(same.mode, Mode::Identical);
    // Same path, changed trait: only the fingerprint tells them apart.
    let changed = moved::<after::All>("traits::after", "traits::before");
    assert_eq!(changed.root, layout::<before::All>().root);
    let err = plan(&layout::<before::All>(), &changed).expect_err("refused");
    assert!(err.0.contains("trait object"), "{}", err.0);
}

mod numbers_only {
    pub mod before {
        #[derive(Default, relive::State)]
        pub struct P {
            pub x: u32,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub ps: Vec<P>,
            pub step: Option<fn(u64) -> u64>,
            #[relive(reset)]
            pub kept: Option<fn(u64) -> u64>,
        }
    }
    pub mod after {
        #[derive(Default, relive::State)]
        pub struct P {
            pub y: u32,
            pub x: u32,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub ps: Vec<P>,
            pub step: Option<fn(u64) -> u64>,
            #[relive(reset)]
            pub kept: Option<fn(u64) -> u64>,
        }
        pub mod reset {
            #[derive(Default, relive::State)]
            pub struct All {
                pub ps: Vec<super::P>,
                #[relive(reset)]
                pub step: Option<fn(u64) -> u64>,
                #[relive(reset)]
                pub kept: Option<fn(u64) -> u64>,
            }
        }
    }
}

mod foreign {
    use std::collections::HashMap;
    use std::hash::{BuildHasherDefault, DefaultHasher};

    #[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
    pub struct Rng(pub u64);
    #[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
    pub struct OtherRng(pub u64);

    #[derive(Default, relive::State)]
    pub struct All {
        pub frames: u64,
        #[relive(serde)]
        pub rng: Rng,
        pub counts: HashMap<u64, u64, BuildHasherDefault<DefaultHasher>>,
    }

    pub mod retyped {
        #[derive(Default, relive::State)]
        pub struct All {
            pub frames: u64,
            #[relive(serde)]
            pub rng: super::OtherRng,
            pub counts: std::collections::HashMap<u64, u64>,
        }
    }

    pub mod rehashed {
        #[derive(Default, relive::State)]
        pub struct All {
            pub frames: u64,
            #[relive(serde)]
            pub rng: super::Rng,
            pub counts: std::collections::HashMap<u64, u64>,
        }
    }
}

#[test]
fn no_fn_pointer_crosses_a_migration_by_name_unless_reset() {
    use numbers_only::{after, before};
    let err = plan(&layout::<before::All>(), &layout::<after::All>()).expect_err("refused");
    assert!(
        err.0
            .starts_with("All.step: a fn pointer cannot be migrated by field name"),
        "{}",
        err.0
    );
    assert!(err.0.contains("#[relive(reset)]"), "{}", err.0);
    let p = plan(&layout::<before::All>(), &layout::<after::reset::All>()).expect("reset");
    assert_eq!(p.mode, Mode::Migrate);
    for field in ["All.step", "All.kept"] {
        assert!(p.reset.contains(&field.to_string()), "{:?}", p.reset);
        assert!(
            p.pinned.contains(&format!("{field} (fn pointer, reset)")),
            "{:?}",
            p.pinned
        );
    }
    assert!(!p.pins_old_generation());
}

mod issue_repro {
    pub mod before {
        #[derive(Default, relive::State)]
        pub struct P {
            pub f: u64,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub p: P,
        }
    }
    pub mod after {
        #[derive(Default, relive::State)]
        pub struct P {
            #[relive(reset)]
            pub f: Option<fn() -> u32>,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub p: P,
        }
    }
}

#[test]
fn a_number_changed_to_a_reset_fn_pointer_is_reset() {
    use issue_repro::{after, before};
    let p = plan(&layout::<before::All>(), &layout::<after::All>()).expect("reset");
    assert_eq!(p.mode, Mode::Migrate);
    assert_eq!(p.reset, vec!["All.p.f".to_string()]);
    assert_eq!(p.pinned, vec!["All.p.f (fn pointer, reset)".to_string()]);
}

mod signature {
    pub mod before {
        #[derive(Default, relive::State)]
        pub struct Arg {
            pub x: f32,
        }
        #[derive(Default, relive::State)]
        pub struct Holder {
            pub step: Option<fn(Arg) -> f32>,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub holders: Vec<Holder>,
        }
    }
    pub mod after {
        #[derive(Default, relive::State)]
        pub struct Arg {
            pub y: f32,
            pub x: f32,
        }
        #[derive(Default, relive::State)]
        pub struct Holder {
            pub step: Option<fn(Arg) -> f32>,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub holders: Vec<Holder>,
            pub added: u32,
        }
        #[derive(Default, relive::State)]
        pub struct ResetHolder {
            #[relive(reset)]
            pub step: Option<fn(Arg) -> f32>,
        }
        pub mod reset {
            #[derive(Default, relive::State)]
            pub struct All {
                pub holders: Vec<super::ResetHolder>,
                pub added: u32,
            }
        }
    }
}

/// The layout of `T` with each module path `from` replaced by `to` (the
/// same paths, as in two builds of one app), so that only what the layout
/// records can tell the two apart.
fn layout_at<T: relive::State>(moves: &[(&str, &str)]) -> Layout {
    let mut text = layout::<T>().to_json();
    for (from, to) in moves {
        text = text.replace(from, to);
    }
    Layout::from_json(text.as_bytes()).expect("a layout")
}

#[test]
fn a_fn_pointer_whose_argument_type_changed_is_refused_at_any_depth() {
    use signature::{after, before};
    let to_before = [
        ("signature::after::reset::", "signature::before::"),
        ("signature::after::", "signature::before::"),
    ];
    // `Arg` is in the state only as a fn pointer's argument: the pointer's
    // type name is unchanged, its fingerprint is not.
    let same = plan(&layout::<before::All>(), &layout::<before::All>()).expect("same");
    assert_eq!(same.mode, Mode::Identical);
    let new = layout_at::<after::All>(&to_before);
    let err = plan(&layout::<before::All>(), &new).expect_err("refused");
    assert!(
        err.0
            .starts_with("All.holders[].step: a fn pointer whose type changed"),
        "{}",
        err.0
    );
    let new = layout_at::<after::reset::All>(&to_before);
    let p = plan(&layout::<before::All>(), &new).expect("reset");
    assert_eq!(p.reset, vec!["All.holders[].step".to_string()]);
}

mod painters {
    pub mod before {
        #[derive(Debug, Default, relive::State)]
        pub struct Canvas {
            pub width: u32,
        }
        #[relive::dyn_trait]
        pub trait Painter: Send {
            fn draw(&self, canvas: &mut Canvas);
            fn boxed_clone(&self) -> Box<dyn Painter>;
        }
        relive::dyn_state!(Box<dyn Painter>, |p| p.boxed_clone());
        #[derive(Default, relive::State)]
        pub struct All {
            pub painter: Option<Box<dyn Painter>>,
        }
    }
    pub mod after {
        #[derive(Debug, Default, relive::State)]
        pub struct Canvas {
            pub height: u32,
            pub width: u32,
        }
        #[relive::dyn_trait]
        pub trait Painter: Send {
            fn draw(&self, canvas: &mut Canvas);
            fn boxed_clone(&self) -> Box<dyn Painter>;
        }
        relive::dyn_state!(Box<dyn Painter>, |p| p.boxed_clone());
        #[derive(Default, relive::State)]
        pub struct All {
            pub painter: Option<Box<dyn Painter>>,
        }
    }
}

#[test]
fn a_trait_object_whose_method_takes_a_changed_type_is_refused() {
    use painters::{after, before};
    // The trait's text is unchanged; `Canvas`, which a method takes, is not
    // in the state otherwise.
    let same = plan(&layout::<before::All>(), &layout::<before::All>()).expect("same");
    assert_eq!(same.mode, Mode::Identical);
    let new = layout_at::<after::All>(&[("painters::after::", "painters::before::")]);
    let err = plan(&layout::<before::All>(), &new).expect_err("refused");
    assert!(err.0.starts_with("All.painter"), "{}", err.0);
    assert!(err.0.contains("trait object"), "{}", err.0);
}

#[test]
fn serde_values_always_move_by_name_and_only_into_their_own_type() {
    let before = layout::<foreign::All>();
    let same = plan(&before, &before).expect("the same types");
    assert_eq!(
        same.mode,
        Mode::Migrate,
        "a serde value is never moved as bytes"
    );
    let err = plan(&before, &layout::<foreign::retyped::All>()).expect_err("another type");
    assert!(
        err.0.contains("All.rng: Serde<Rng> -> Serde<OtherRng>"),
        "{err}"
    );
}

#[test]
fn maps_change_hasher_by_name_but_never_as_bytes() {
    let plan = plan(
        &layout::<foreign::All>(),
        &layout::<foreign::rehashed::All>(),
    )
    .expect("a map with another hasher loads by name");
    assert_eq!(plan.mode, Mode::Migrate);
    let fixed =
        layout::<HashMap<u64, u64, std::hash::BuildHasherDefault<std::hash::DefaultHasher>>>();
    let random = layout::<HashMap<u64, u64>>();
    assert!(!Identical::new(&fixed, &random).same(&fixed.root, &random.root));
    assert!(Identical::new(&fixed, &fixed).same(&fixed.root, &fixed.root));
}

mod reprs {
    pub mod c_and_u8 {
        #[derive(relive::State)]
        #[repr(u8)]
        #[repr(C)]
        pub enum E {
            A(u8, u32),
            B(u64),
        }
    }
    pub mod c_u8 {
        #[derive(relive::State)]
        #[repr(C, u8)]
        pub enum E {
            A(u8, u32),
            B(u64),
        }
    }
    pub mod u8_only {
        #[derive(relive::State)]
        #[repr(u8)]
        pub enum E {
            A(u8, u32),
            B(u64),
        }
    }
}

/// The layout of `T` with `path` as its key, so that two versions of it
/// compare as one type changed in place (as across a reload).
pub(super) fn as_key<T: relive::State>(path: &str) -> Layout {
    layout_at::<T>(&[(std::any::type_name::<T>(), path)])
}

#[test]
fn all_repr_attributes_and_variant_offsets_decide_identity() {
    use reprs::*;
    let split = as_key::<c_and_u8::E>("app::E");
    let joined = as_key::<c_u8::E>("app::E");
    let int_only = as_key::<u8_only::E>("app::E");
    assert_eq!(split.types["app::E"].size, int_only.types["app::E"].size);
    let p = plan(&split, &int_only).expect("by name");
    assert_ne!(
        p.mode,
        Mode::Identical,
        "A's fields moved from (8, 12) to (1, 4)"
    );
    assert_eq!(split, joined, "#[repr(u8)] #[repr(C)] is #[repr(C, u8)]");
    assert_eq!(plan(&split, &joined).expect("same").mode, Mode::Identical);
}

mod generic_enum {
    #[derive(relive::State)]
    #[repr(C, u8)]
    pub enum G<T> {
        A(T, u8),
        B(Option<Box<G<T>>>),
        C,
    }
}

#[test]
fn generic_and_recursive_enums_record_real_offsets() {
    use generic_enum::G;
    let value: G<u32> = G::A(7, 1);
    let base = &raw const value as usize;
    let G::A(a, b) = &value else { unreachable!() };
    let measured = vec![&raw const *a as usize - base, &raw const *b as usize - base];
    let l = layout::<G<u32>>();
    let Kind::Enum { variants, repr } = &l.root_def().expect("root").kind else {
        panic!("not an enum");
    };
    assert_eq!(repr, &["C".to_string(), "u8".to_string()]);
    let recorded: Vec<usize> = variants[0]
        .fields
        .iter()
        .map(|f| f.offset as usize)
        .collect();
    assert_eq!(recorded, measured);
    assert_eq!(
        variants.iter().map(|v| v.discriminant).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

mod options {
    pub mod plain {
        #[derive(Default, relive::State)]
        pub struct All {
            pub a: Option<u8>,
            pub b: u8,
        }
    }
    pub mod nested {
        #[derive(Default, relive::State)]
        pub struct All {
            pub a: Option<Option<u8>>,
            pub b: u8,
        }
    }
    pub mod unit {
        #[derive(Default, relive::State)]
        pub struct All {
            pub a: Option<u8>,
            pub b: Option<()>,
        }
    }
}

#[test]
fn options_around_options_or_units_are_not_widened_into() {
    use options::{nested, plain, unit};
    let old = moved::<plain::All>("options::plain", "options::v");
    for new in [
        moved::<nested::All>("options::nested", "options::v"),
        moved::<unit::All>("options::unit", "options::v"),
    ] {
        let err = plan(&old, &new).expect_err("refused");
        assert!(
            err.0.contains("an Option around an Option or ()"),
            "{}",
            err.0
        );
    }
}

mod recursive {
    pub mod before {
        #[derive(Default, relive::State)]
        pub struct A {
            pub b: Option<Box<B>>,
            pub x: u32,
        }
        #[derive(Default, relive::State)]
        pub struct B {
            pub a: Vec<A>,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            #[relive(reset)]
            pub a: A,
            pub b: B,
        }
        #[derive(Default, relive::State)]
        pub struct S {
            pub n: u32,
            #[relive(serde, reset)]
            pub v: (f32, f32),
        }
    }
    pub mod after {
        #[derive(Default, relive::State)]
        pub struct A {
            pub b: Option<Box<B>>,
            pub x: u64,
        }
        #[derive(Default, relive::State)]
        pub struct B {
            pub a: Vec<A>,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            #[relive(reset)]
            pub a: A,
            pub b: B,
        }
    }
}

mod two_paths {
    #[derive(Default, relive::State)]
    pub struct P {
        pub t: u32,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub a: u32,
        pub b: u32,
        pub ps: Vec<P>,
        pub qs: Vec<P>,
    }
}

mod two_paths_widened {
    #[derive(Default, relive::State)]
    pub struct P {
        pub t: u64,
    }
    #[derive(Default, relive::State)]
    pub struct All {
        pub a: u64,
        pub b: u64,
        pub ps: Vec<P>,
        pub qs: Vec<P>,
    }
}

#[test]
fn a_failed_comparison_leaves_no_assumption_behind() {
    use recursive::{after, before};
    // Comparing `A` assumes `A` while it looks at `B` (which holds `A`s),
    // then fails on `x`: `B` must not stay "identical" on that assumption,
    // or its old-layout `A`s would move as bytes.
    let p = plan(&layout::<before::All>(), &layout::<after::All>()).expect("by name");
    assert_eq!(p.mode, Mode::Migrate, "{p:?}");
    assert!(p.reset.is_empty(), "a widened field loads: {p:?}");
    let (old, new) = (layout::<before::All>(), layout::<after::All>());
    let mut identical = Identical::new(&old, &new);
    let key = |l: &Layout, name: &str| {
        l.types
            .keys()
            .find(|k| k.ends_with(name))
            .cloned()
            .expect("described")
    };
    assert!(!identical.same(&key(&old, "::A"), &key(&new, "::A")));
    assert!(!identical.same(&key(&old, "::B"), &key(&new, "::B")));
}

#[test]
fn an_unchanged_reset_serde_field_keeps_its_value() {
    use recursive::before::S;
    let p = plan(&layout::<S>(), &layout::<S>()).expect("same types");
    assert!(p.reset.is_empty(), "{p:?}");
    assert_eq!(p.mode, Mode::Migrate, "a serde value moves by name");
}

mod hashers {
    use std::hash::{BuildHasher, DefaultHasher, Hasher};

    /// A zero-sized builder of another crate: no bytes, one hash function.
    #[derive(Default)]
    pub struct Plain;
    impl BuildHasher for Plain {
        type Hasher = DefaultHasher;
        fn build_hasher(&self) -> DefaultHasher {
            DefaultHasher::new()
        }
    }

    /// A builder with bytes of its own, whose meaning its name does not fix.
    #[derive(Default)]
    pub struct Keyed(pub u64);
    impl BuildHasher for Keyed {
        type Hasher = DefaultHasher;
        fn build_hasher(&self) -> DefaultHasher {
            let mut h = DefaultHasher::new();
            h.write_u64(self.0);
            h
        }
    }
}

#[test]
fn maps_move_as_bytes_only_with_a_hasher_whose_name_is_one_definition() {
    use std::collections::HashMap;
    let identical = |l: &Layout| Identical::new(l, l).same(&l.root, &l.root);
    assert!(identical(&layout::<HashMap<u64, u64>>()), "std RandomState");
    assert!(identical(&layout::<HashMap<u64, u64, hashers::Plain>>()));
    assert!(
        !identical(&layout::<HashMap<u64, u64, hashers::Keyed>>()),
        "a builder with bytes of a non-std type may change under its name"
    );
    let p = plan(
        &layout::<HashMap<u64, u64, hashers::Keyed>>(),
        &layout::<HashMap<u64, u64, hashers::Keyed>>(),
    )
    .expect("by name");
    assert_eq!(p.mode, Mode::Migrate, "the map is rebuilt");
}

#[test]
fn every_widened_field_path_is_reported() {
    let p = plan(
        &layout::<two_paths::All>(),
        &layout::<two_paths_widened::All>(),
    )
    .expect("migrates");
    assert_eq!(
        p.widened,
        vec![
            "All.a: u32 -> u64".to_string(),
            "All.b: u32 -> u64".to_string(),
            "All.ps[].t: u32 -> u64".to_string(),
            "All.qs[].t: u32 -> u64".to_string(),
        ]
    );
}

#[test]
fn a_refused_type_change_says_what_to_do() {
    let err = plan(&layout::<v1::All>(), &layout::<nested_change::All>()).expect_err("refused");
    assert!(err.0.contains("#[relive(reset)]"), "{}", err.0);
    assert!(err.0.contains("restart"), "{}", err.0);
}
