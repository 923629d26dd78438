//! `#[relive(serde)]` fields: a value of any `Serialize + DeserializeOwned`
//! type (a foreign crate's type, which the orphan rule keeps from
//! implementing [`State`]) carried through its own serde impls.
//!
//! The derive treats such a field as a [`Serde<T>`], a transparent wrapper
//! whose layout description is [`Kind::Serde`]: the host never considers
//! it identical as bytes, so its value always travels by name (saved by the
//! old code, loaded by the new one), and nothing about the foreign type's
//! layout is trusted. Its rollback copy is a `Clone` where the type has one,
//! else a serde round trip.

use relive_abi::layout::Kind;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserializer, Serialize, Serializer};

use crate::state::{LayoutBuilder, State};

/// A value carried through its own serde impls (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
#[repr(transparent)]
pub struct Serde<T>(pub T);

impl<T> Serde<T> {
    /// The wrapper's view of a value.
    pub fn from_ref(value: &T) -> &Serde<T> {
        // SAFETY: `Serde<T>` is `repr(transparent)` over `T`.
        unsafe { &*(value as *const T).cast::<Serde<T>>() }
    }
}

/// The short name of `T` for messages.
fn name_of<T>() -> String {
    relive_abi::layout::short_name(std::any::type_name::<T>())
}

// SAFETY: the description says nothing about the bytes (`Kind::Serde`),
// and the host never moves a `Kind::Serde` value as bytes.
unsafe impl<T: Serialize + DeserializeOwned + 'static> State for Serde<T> {
    fn describe(layout: &mut LayoutBuilder) -> String {
        layout.add::<Self>(|_| Kind::Serde {
            ty: std::any::type_name::<T>().to_string(),
        })
    }
    /// A serde round trip (the derive prefers `Clone` where there is one).
    fn snapshot(&self) -> Self {
        let copy = rmp_serde::to_vec_named(&self.0)
            .map_err(|e| e.to_string())
            .and_then(|bytes| rmp_serde::from_slice(&bytes).map_err(|e| e.to_string()));
        match copy {
            Ok(value) => Serde(value),
            Err(e) => panic!(
                "a `{}` carried through serde could not be copied for a rollback: {e}",
                name_of::<T>()
            ),
        }
    }
    fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
    fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Serde).map_err(|e| {
            D::Error::custom(format_args!(
                "a `{}` carried through serde did not load: {e}",
                name_of::<T>()
            ))
        })
    }
}

/// Loads the `#[relive(serde)]` field `field` of a struct or variant, with
/// the field's name in the error (the derive's `deserialize_with`).
pub fn load_field<'de, D: Deserializer<'de>, T: Serialize + DeserializeOwned + 'static>(
    deserializer: D,
    field: &str,
) -> Result<crate::__rt::Missing<Serde<T>>, D::Error> {
    Serde::<T>::load(deserializer)
        .map(crate::__rt::Missing::Present)
        .map_err(|e| D::Error::custom(format_args!("field `{field}`: {e}")))
}

/// The rollback copy of a `#[relive(serde)]` field:
/// `(&&SnapshotProbe(&value)).deep_copy()` is a `Clone` where `T` has one,
/// else a serde round trip.
#[derive(Debug)]
pub struct SnapshotProbe<'a, T>(pub &'a T);

/// The `Clone` arm of [`SnapshotProbe`].
pub trait ViaClone<T> {
    /// `value.clone()`.
    fn deep_copy(&self) -> T;
}

impl<T: Clone> ViaClone<T> for &SnapshotProbe<'_, T> {
    fn deep_copy(&self) -> T {
        self.0.clone()
    }
}

/// The serde arm of [`SnapshotProbe`].
pub trait ViaSerde<T> {
    /// A serde round trip.
    fn deep_copy(&self) -> T;
}

impl<T: Serialize + DeserializeOwned + 'static> ViaSerde<T> for SnapshotProbe<'_, T> {
    fn deep_copy(&self) -> T {
        State::snapshot(Serde::from_ref(self.0)).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Carry, Load};

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Foreign {
        x: f32,
        tags: Vec<String>,
    }

    #[test]
    fn a_serde_value_is_described_opaquely_and_round_trips() {
        let layout = LayoutBuilder::layout_of::<Serde<Foreign>>();
        assert_eq!(
            layout.root_def().map(|d| &d.kind),
            Some(&Kind::Serde {
                ty: std::any::type_name::<Foreign>().to_string()
            })
        );
        let value = Serde(Foreign {
            x: 1.5,
            tags: vec!["a".into()],
        });
        let bytes = rmp_serde::to_vec_named(&Carry(&value)).expect("save");
        let back = rmp_serde::from_slice::<Load<Serde<Foreign>>>(&bytes).expect("load");
        assert_eq!(back.0, value);
        assert_eq!(value.snapshot(), value);
    }

    #[test]
    fn a_value_that_does_not_load_names_its_type() {
        let bytes = rmp_serde::to_vec_named(&"not a struct").expect("save");
        let err = rmp_serde::from_slice::<Load<Serde<Foreign>>>(&bytes).expect_err("mismatch");
        assert!(
            err.to_string().contains("`Foreign` carried through serde"),
            "{err}"
        );
    }
}
