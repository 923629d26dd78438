//! Skipped fields inside a value that moves as bytes start from `Default`:
//! `reset_skipped` drops the old values and visits only the types that hide
//! a skipped field.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use relive::State;
use relive::state::{LayoutBuilder, Skipped};

#[derive(Default, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, relive::State)]
struct Window {
    id: u32,
    #[relive(skip)]
    handle: Option<Arc<()>>,
}

#[derive(Debug, PartialEq, relive::State)]
enum Slot {
    Empty,
    Open(Window),
    Named { window: Box<Window>, title: String },
}

#[derive(Default, relive::State)]
struct All {
    windows: Vec<Window>,
    slots: Vec<Slot>,
    by_id: HashMap<u32, Window>,
    by_window: BTreeMap<Window, u8>,
    spare: Option<(u8, [Window; 2])>,
    numbers: Vec<u64>,
}

#[test]
fn nested_skipped_fields_are_dropped_and_reset() {
    let live = Arc::new(());
    let open = |id| Window {
        id,
        handle: Some(live.clone()),
    };
    let mut all = All {
        windows: vec![open(1), open(2)],
        slots: vec![
            Slot::Empty,
            Slot::Open(open(3)),
            Slot::Named {
                window: Box::new(open(4)),
                title: "t".into(),
            },
        ],
        by_id: [(5, open(5))].into_iter().collect(),
        by_window: [(open(6), 6)].into_iter().collect(),
        spare: Some((7, [open(7), open(8)])),
        numbers: vec![1, 2, 3],
    };
    assert_eq!(Arc::strong_count(&live), 9);
    let skipped = Skipped::of(&LayoutBuilder::layout_of::<All>());
    assert!(skipped.inside::<All>() && skipped.inside::<Vec<Slot>>());
    assert!(!skipped.inside::<Vec<u64>>());
    all.reset_skipped(&skipped);
    assert_eq!(Arc::strong_count(&live), 1, "every old handle was dropped");
    let closed = |id| Window { id, handle: None };
    assert_eq!(all.windows, vec![closed(1), closed(2)]);
    assert_eq!(all.slots[1], Slot::Open(closed(3)));
    assert_eq!(all.by_id[&5], closed(5));
    assert_eq!(all.by_window.keys().next(), Some(&closed(6)));
    assert_eq!(all.numbers, vec![1, 2, 3]);
}
