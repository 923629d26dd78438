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
    assert!(p.identical);
    let p = plan(&layout::<Tree>(), &layout::<Tree>()).expect("recursive type");
    assert!(p.identical);
    let p = plan(&layout::<with_map::All>(), &layout::<with_map::All>()).expect("map");
    assert!(p.identical);
}

#[test]
fn appended_fields_move_the_rest_and_default_the_new() {
    let old = layout::<v1::All>();
    let p = plan(&old, &layout::<appended::All>()).expect("append is allowed");
    assert!(!p.identical);
    assert_eq!(p.added, vec!["speed".to_string()]);
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
    assert_eq!(p.removed, vec!["name".to_string()]);
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
fn map_types_are_described() {
    let l = layout::<HashMap<String, u8>>();
    assert!(
        matches!(l.root_def().map(|d| &d.kind), Some(Kind::Container { name, .. }) if name == "HashMap")
    );
}
