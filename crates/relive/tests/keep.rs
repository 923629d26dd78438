//! `#[relive(keep)]`: a field of a type without `State` (a persistent
//! crate's window, device or stream) is described as an opaque value keyed
//! by its type's name, and left out of snapshots and saves, which give it
//! its `Default`.

use relive::State;
use relive::state::{Carry, LayoutBuilder, Load};
use relive_abi::layout::Kind;

/// Stands for a value of a persistent crate: no `State`, no serde.
#[derive(Debug, Default, PartialEq)]
pub struct Device {
    pub id: u32,
}

#[derive(Debug, Default, relive::State)]
pub struct All {
    pub frames: u64,
    #[relive(keep)]
    pub device: Option<Device>,
}

#[test]
fn a_kept_field_is_an_opaque_value_of_its_type_name() {
    let layout = LayoutBuilder::layout_of::<All>();
    let Some(Kind::Struct { fields }) = layout.root_def().map(|d| &d.kind) else {
        panic!("a struct: {layout:?}");
    };
    let device = fields.iter().find(|f| f.name == "device").expect("device");
    assert!(device.keep && !device.skip, "{device:?}");
    assert_eq!(device.ty, std::any::type_name::<Option<Device>>());
    let def = &layout.types[&device.ty];
    assert_eq!(def.kind, Kind::Scalar);
    assert_eq!(def.size, size_of::<Option<Device>>() as u64);
    assert_eq!(def.align, align_of::<Option<Device>>() as u64);
}

#[test]
fn a_kept_field_is_neither_snapshotted_nor_saved() {
    let all = All {
        frames: 7,
        device: Some(Device { id: 3 }),
    };
    let copy = all.snapshot();
    assert_eq!((copy.frames, copy.device), (7, None));
    let bytes = rmp_serde::to_vec_named(&Carry(&all)).expect("save");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("device"), "not saved: {text}");
    let back = rmp_serde::from_slice::<Load<All>>(&bytes).expect("load").0;
    assert_eq!((back.frames, back.device), (7, None));
}
