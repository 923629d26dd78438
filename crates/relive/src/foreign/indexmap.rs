//! indexmap 2: `IndexMap<K, V, S>` and `IndexSet<T, S>` as containers over
//! their keys, values and hasher builder. Their bytes move as they are when
//! those types are unchanged (the map's own layout is fixed by the crate
//! version and the compiler, which the handshake pins); a migration saves
//! them as ordered maps and sequences by value, so the order survives.

use std::hash::{BuildHasher, Hash};

use indexmap::{IndexMap, IndexSet};
use serde::{Deserialize, Deserializer, Serializer};

use crate::state::{Carry, LayoutBuilder, Load, Skipped, State};
use crate::std_impls::{Hasher, map_container, reset_each, reset_entry, set_container};

map_container!("IndexMap", [K: State + Eq + Hash, V: State, H: BuildHasher + Default + 'static],
    IndexMap<K, V, H>, [K, V, Hasher<H>], load IndexMap<Load<K>, Load<V>, H>);
set_container!("IndexSet", [T: State + Eq + Hash, H: BuildHasher + Default + 'static],
    IndexSet<T, H>, [T, Hasher<H>]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_maps_keep_their_order_across_a_save_and_a_snapshot() {
        let map: IndexMap<String, u32> = [("z", 1), ("a", 2), ("m", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let bytes = rmp_serde::to_vec_named(&Carry(&map)).expect("save");
        let back = rmp_serde::from_slice::<Load<IndexMap<String, u32>>>(&bytes)
            .expect("load")
            .0;
        assert_eq!(back.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
        assert_eq!(map.snapshot(), map);
        let set: IndexSet<u8> = [3, 1, 2].into_iter().collect();
        let bytes = rmp_serde::to_vec_named(&Carry(&set)).expect("save");
        let back = rmp_serde::from_slice::<Load<IndexSet<u8>>>(&bytes).expect("load");
        assert_eq!(back.0.into_iter().collect::<Vec<_>>(), [3, 1, 2]);
    }
}
