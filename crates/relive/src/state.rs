//! The [`State`] trait: what relive needs to know about every type inside the
//! app's state so it can move it safely from one generation to the next.
//!
//! A type describes its layout (size, alignment, fields with their offsets
//! and types) into a [`LayoutBuilder`], and can make a deep copy of itself
//! that relive keeps while a new generation runs its first frame, so that a
//! panic there rolls back to exactly the state from before the reload. When
//! a reload changes a type inside the state, the old code saves the state
//! by field name through serde's data model ([`State::save`]) and the new
//! code loads it ([`State::load`]): fields are matched by name, new fields
//! start from `Default`, removed ones are dropped.
//! `#[derive(relive::State)]` implements it for structs and enums; relive
//! implements it for the std types a state usually holds.

use std::collections::{BTreeMap, HashSet};

use relive_abi::layout::{Field, Kind, Layout, TypeDef, Variant};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A type that can live in relive-managed state.
///
/// # Safety
/// [`State::describe`] must report the type's true size, alignment, field
/// offsets and field types: relive moves values between generations as raw
/// bytes when two descriptions match. [`State::visit_pins`] must visit every
/// address a value holds in the library that made it (relive closes a
/// library that no visited address points into), and such types must be
/// described as pinned. Derive it rather than implementing it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be carried across reloads: it does not implement `relive::State`",
    label = "not `relive::State`",
    note = "three ways out: `#[derive(relive::State)]` on the type if it is yours; `#[relive(serde)]` on the field if it has serde support (carried through serde at each reload); or `#[relive(skip)]` on the field (it starts from the state's `Default` and `reloaded` rebuilds it)"
)]
pub unsafe trait State: Sized + 'static {
    /// True when a bitwise copy of a value is a valid, independent value (no
    /// heap, no pointers, nothing to drop): snapshots of `Vec`s of such
    /// types are one `memcpy`. `#[derive(State)]` sets it when every field's
    /// type has it.
    const POD: bool = false;

    /// Calls `visit` with every address that the value holds into a
    /// library (`opaque` for a trait object, whose own data relive cannot
    /// see): `&'static str`, `fn` pointers, trait objects. Containers skip
    /// their elements when the layout shows no pinned type inside them
    /// ([`crate::__rt::may_pin`]).
    fn visit_pins(&self, visit: &mut dyn FnMut(usize, bool)) {
        let _ = visit;
    }

    /// Whether a value of this type can hold a pinned value, from the
    /// state's layout (true for a type it does not know): containers visit
    /// their elements only then.
    #[doc(hidden)]
    fn may_pin() -> bool {
        crate::__rt::may_pin::<Self>()
    }

    /// True when [`State::save`] may write serde's unit or `none` (as `()`
    /// and `Option` do), which a self-describing format cannot tell from an
    /// `Option`'s `None`: an `Option` around such a type saves `Some` as a
    /// one-element sequence, so that `Some(None)` and `Some(())` load back
    /// as themselves.
    const SAVES_AS_UNIT: bool = false;

    /// Drops every `#[relive(skip)]` field inside the value, at any depth,
    /// and sets it to its `Default`: what a skipped field becomes when the
    /// value around it is moved as bytes to new code. `skipped` tells which
    /// types hide such a field, so that no other value is visited. Panics
    /// when a skipped field's type has no `Default`.
    fn reset_skipped(&mut self, skipped: &Skipped) {
        let _ = skipped;
    }

    /// Adds this type (and the types inside it) to `layout`, returns its key.
    fn describe(layout: &mut LayoutBuilder) -> String;

    /// A deep, independent copy of the value.
    fn snapshot(&self) -> Self;

    /// Writes the value with serde's data model, structs as maps by field
    /// name (for a migration to new code).
    fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// Reads a value that [`State::save`] wrote, possibly from an older
    /// version of the type: fields by name, missing ones from `Default`.
    fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
}

/// The fingerprint of a trait's definition, for trait objects in the state.
/// Implemented by `#[relive::dyn_trait]` on the trait.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no fingerprint: add `#[relive::dyn_trait]` to the trait",
    label = "trait objects in the state need `#[relive::dyn_trait]` on their trait"
)]
pub trait TraitFingerprint {
    /// A hash of the trait's definition as written and of the layouts of
    /// the types its methods take and return (see [`SignatureType`]), for
    /// a description going on in `layout`.
    fn fingerprint(layout: &LayoutBuilder) -> u64;
}

/// A type named in the signature of a `fn` pointer or of a method of a
/// `#[relive::dyn_trait]` trait: old code called through the pointer or the
/// vtable reads such values with the old layout, so relive records their
/// layouts in the pointer's fingerprint. Every [`State`] type is one, and so
/// are `str` and slices of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is passed to or returned by a method of a `#[relive::dyn_trait]` trait, but relive cannot describe its layout",
    label = "derive `relive::State` for it, so that a reload that changes it is refused instead of calling old code with the new layout"
)]
pub trait SignatureType {
    /// Adds the type's layout to `layout`, returns its key.
    fn describe_signature(layout: &mut LayoutBuilder) -> String;
}

impl<T: State> SignatureType for T {
    fn describe_signature(layout: &mut LayoutBuilder) -> String {
        T::describe(layout)
    }
}

impl SignatureType for str {
    fn describe_signature(_layout: &mut LayoutBuilder) -> String {
        "str".to_string()
    }
}

impl<T: SignatureType> SignatureType for [T] {
    fn describe_signature(layout: &mut LayoutBuilder) -> String {
        format!("[{}]", T::describe_signature(layout))
    }
}

/// FNV-1a of `bytes`, continuing from `hash`.
pub const fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The FNV-1a offset basis.
pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The fingerprint of a signature: `seed` (the hash of the definition's
/// text) combined with the full layouts of the types that `describe` adds
/// (a `fn` pointer's arguments and result, a trait's methods' arguments and
/// results). A type met again while its own fingerprint is being computed
/// (a `fn(Tree)` inside `Tree`) counts as 0 there: the outer computation
/// covers it. (No thread-local keeps track: one with a destructor would
/// keep the library loaded for ever.)
pub fn signature_fingerprint<T: ?Sized + 'static>(
    outer: &LayoutBuilder,
    seed: u64,
    describe: impl FnOnce(&mut LayoutBuilder) -> Vec<String>,
) -> u64 {
    let id = std::any::TypeId::of::<T>();
    if outer.fingerprinting.contains(&id) {
        return 0;
    }
    let mut builder = LayoutBuilder {
        types: BTreeMap::new(),
        fingerprinting: outer.fingerprinting.iter().copied().chain([id]).collect(),
    };
    let roots = describe(&mut builder);
    let text = Layout {
        root: roots.join(","),
        types: builder.types,
    }
    .to_json();
    fnv1a(seed, text.as_bytes())
}

/// Serialises a [`State`] value through [`State::save`].
#[derive(Debug)]
pub struct Carry<'a, T>(pub &'a T);

impl<T: State> Serialize for Carry<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.save(serializer)
    }
}

/// Deserialises a [`State`] value through [`State::load`].
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Load<T>(pub T);

impl<'de, T: State> Deserialize<'de> for Load<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::load(deserializer).map(Load)
    }
}

/// The state struct itself: moves fields in and drops fields by position.
/// Implemented by `#[derive(State)]` for structs.
#[doc(hidden)]
pub trait Root: State {
    /// Builds a value from the previous generation's bytes: `base` (the new
    /// type's `Default`) with every field that has a source replaced, and
    /// the skipped fields inside those reset ([`State::reset_skipped`]).
    ///
    /// # Safety
    /// `src` must point to a live value of the previous state type, and for
    /// each field `i`, `sources[i]` must be `-1` or the offset in `src` of a
    /// value with exactly the layout of field `i`, which the caller gives up.
    unsafe fn assemble(base: Self, src: *const u8, sources: &[i64], skipped: &Skipped) -> Self;

    /// Drops the fields whose `mask` byte is non-zero, leaves the rest.
    ///
    /// # Safety
    /// `this` must point to a live value; afterwards it must not be used or
    /// dropped again as a whole.
    unsafe fn drop_fields(this: *mut Self, mask: &[u8]);
}

/// The types of a layout that hide a `#[relive(skip)]` field, at any depth,
/// by type name.
#[derive(Debug, Default)]
pub struct Skipped(HashSet<String>);

impl Skipped {
    /// The types of `layout` that hide a skipped field.
    pub fn of(layout: &Layout) -> Skipped {
        Skipped(reaching(layout, |kind| {
            let fields: &[Field] = match kind {
                Kind::Struct { fields } | Kind::Tuple { fields } => fields,
                _ => &[],
            };
            let variants = match kind {
                Kind::Enum { variants, .. } => &variants[..],
                _ => &[],
            };
            fields
                .iter()
                .chain(variants.iter().flat_map(|v| &v.fields))
                .any(|f| f.skip)
        }))
    }

    /// Whether values of `T` hide a skipped field.
    pub fn inside<T>(&self) -> bool {
        !self.0.is_empty() && self.0.contains(std::any::type_name::<T>())
    }
}

/// The types of `layout` that are `marked` themselves or hold, at any depth
/// (fields, elements, type parameters), a type that is; a type that
/// contains itself settles.
pub(crate) fn reaching(layout: &Layout, marked: impl Fn(&Kind) -> bool) -> HashSet<String> {
    fn inner(kind: &Kind) -> Vec<&String> {
        match kind {
            Kind::Struct { fields } | Kind::Tuple { fields } => {
                fields.iter().map(|f| &f.ty).collect()
            }
            Kind::Enum { variants, .. } => variants
                .iter()
                .flat_map(|v| v.fields.iter().map(|f| &f.ty))
                .collect(),
            Kind::Array { elem, .. } => vec![elem],
            Kind::Container { args, .. } => args.iter().collect(),
            Kind::Scalar | Kind::Pinned { .. } | Kind::Opaque | Kind::Serde { .. } => Vec::new(),
        }
    }
    let mut found: HashSet<String> = layout
        .types
        .iter()
        .filter(|(_, def)| marked(&def.kind))
        .map(|(key, _)| key.clone())
        .collect();
    loop {
        let before = found.len();
        for (key, def) in &layout.types {
            if !found.contains(key) && inner(&def.kind).iter().any(|k| found.contains(*k)) {
                found.insert(key.clone());
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// Collects the layout of a state type and everything inside it.
#[derive(Debug, Default)]
pub struct LayoutBuilder {
    types: BTreeMap<String, TypeDef>,
    /// Types whose signature fingerprint is being computed around this
    /// builder (see [`signature_fingerprint`]).
    fingerprinting: Vec<std::any::TypeId>,
}

impl LayoutBuilder {
    /// The full layout of `T`.
    pub fn layout_of<T: State>() -> Layout {
        let mut builder = LayoutBuilder::default();
        let root = T::describe(&mut builder);
        Layout {
            root,
            types: builder.types,
        }
    }

    /// Registers `T` with a kind computed by `kind` (which describes the
    /// types inside it), once; returns its key. A type that contains itself
    /// finds its own key already registered and stops there.
    pub fn add<T: 'static>(&mut self, kind: impl FnOnce(&mut Self) -> Kind) -> String {
        let key = std::any::type_name::<T>().to_string();
        if self.types.contains_key(&key) {
            return key;
        }
        let placeholder = TypeDef {
            size: size_of::<T>() as u64,
            align: align_of::<T>() as u64,
            kind: Kind::Scalar,
        };
        self.types.insert(key.clone(), placeholder);
        let kind = kind(self);
        if let Some(def) = self.types.get_mut(&key) {
            def.kind = kind;
        }
        key
    }

    /// A type whose bytes carry all of its meaning.
    pub fn scalar<T: 'static>(&mut self) -> String {
        self.add::<T>(|_| Kind::Scalar)
    }

    /// A standard container over the given type parameters.
    pub fn container<T: 'static>(&mut self, name: &str, args: Vec<String>) -> String {
        self.add::<T>(|_| Kind::Container {
            name: name.to_string(),
            args,
        })
    }

    /// One field, for struct, tuple and variant descriptions.
    pub fn field<F: State>(&mut self, name: &str, offset: usize) -> Field {
        Field {
            name: name.to_string(),
            offset: offset as u64,
            ty: F::describe(self),
            skip: false,
            reset: false,
            keep: false,
        }
    }

    /// A `#[relive(reset)]` field.
    pub fn reset_field<F: State>(&mut self, name: &str, offset: usize) -> Field {
        Field {
            reset: true,
            ..self.field::<F>(name, offset)
        }
    }

    /// A `#[relive(skip)]` field: never carried; its type (which need not be
    /// `State`) is known by name, size and alignment only.
    pub fn skipped_field<F: 'static>(&mut self, name: &str, offset: usize) -> Field {
        let key = format!("{}#skipped", std::any::type_name::<F>());
        let ty = self.add_keyed::<F>(key, Kind::Opaque);
        Field {
            name: name.to_string(),
            offset: offset as u64,
            ty,
            skip: true,
            reset: false,
            keep: false,
        }
    }

    /// A `#[relive(keep)]` field: its type `F` (from a persistent crate,
    /// with no `State` impl) is an opaque scalar keyed by its name, so its
    /// bytes move only while that name, size and alignment stay the same.
    pub fn kept_field<F: 'static>(&mut self, name: &str, offset: usize) -> Field {
        let key = self.add_keyed::<F>(std::any::type_name::<F>().to_string(), Kind::Scalar);
        Field {
            name: name.to_string(),
            offset: offset as u64,
            ty: key,
            skip: false,
            reset: false,
            keep: true,
        }
    }

    /// A value that points into the library that made it.
    pub fn pinned<T: 'static>(&mut self, what: &str) -> String {
        self.add::<T>(|_| Kind::Pinned {
            what: what.to_string(),
        })
    }

    /// A pinned value whose meaning also depends on a definition that its
    /// type's name does not show (a trait's methods): the fingerprint is
    /// part of its key, so a changed definition is never "identical".
    pub fn pinned_with<T: 'static>(&mut self, what: &str, fingerprint: u64) -> String {
        let key = format!("{}#{fingerprint:016x}", std::any::type_name::<T>());
        self.add_keyed::<T>(
            key,
            Kind::Pinned {
                what: what.to_string(),
            },
        )
    }

    /// Registers `T` under a key of its own (not its type name), once.
    pub(crate) fn add_keyed<T>(&mut self, key: String, kind: Kind) -> String {
        self.types.entry(key.clone()).or_insert_with(|| TypeDef {
            size: size_of::<T>() as u64,
            align: align_of::<T>() as u64,
            kind,
        });
        key
    }

    /// One enum variant, with its discriminant's value.
    pub fn variant(&mut self, name: &str, discriminant: i128, fields: Vec<Field>) -> Variant {
        Variant {
            name: name.to_string(),
            discriminant,
            fields,
        }
    }
}
