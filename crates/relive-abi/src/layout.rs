//! Layout descriptions of the app's state type and every type inside it.
//!
//! The app computes a [`Layout`] from its `relive::State` impls and hands it to
//! the host as JSON. The host compares the layouts of two generations to
//! decide whether the state's bytes can be moved as they are, field by field,
//! or not at all. Types are keyed by their full Rust path, so a type that
//! contains itself (through a `Box` or a `Vec`) is described once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The state type's layout and the layouts of all types it contains.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Key of the state type in `types`.
    pub root: String,
    /// Every type reachable from the root, by key.
    pub types: BTreeMap<String, TypeDef>,
}

/// The layout of one type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeDef {
    /// `size_of`.
    pub size: u64,
    /// `align_of`.
    pub align: u64,
    /// What the type is made of.
    pub kind: Kind,
}

/// What a type is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// A type whose bytes are its whole meaning for the layout check: numbers,
    /// `bool`, `char`, `String`. Identified by its key alone.
    Scalar,
    /// A struct with named (or numbered) fields.
    Struct {
        /// Fields in declaration order.
        fields: Vec<Field>,
    },
    /// A tuple.
    Tuple {
        /// Elements, named `0`, `1`, ...
        fields: Vec<Field>,
    },
    /// An enum.
    ///
    /// Where Rust defines the layout (a `C` or integer `repr`, RFC 2195), the
    /// variants' field offsets are the real ones. A `repr(Rust)` enum's
    /// variant field offsets cannot be observed on stable Rust without a
    /// value of every variant, so they are recorded as 0; rustc lays such an
    /// enum out as a fixed function of its definition (the variants, their
    /// order, discriminants and fields) and of its fields' layouts, so two
    /// descriptions that agree on all of those, recursively, under the same
    /// compiler (which the handshake checks), have the same bytes.
    Enum {
        /// Variants in declaration order.
        variants: Vec<Variant>,
        /// The items of all its `#[repr(..)]` attributes, sorted and without
        /// duplicates (`#[repr(u8)] #[repr(C)]` and `#[repr(C, u8)]` are both
        /// `["C", "u8"]`): the discriminant's type and the layout rules.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        repr: Vec<String>,
    },
    /// A fixed-size array.
    Array {
        /// Key of the element type.
        elem: String,
        /// Number of elements.
        len: u64,
    },
    /// A value that points into the code or read-only data of the library
    /// that made it (`&'static str`, `fn` pointers): moving its bytes keeps
    /// the old library mapped.
    Pinned {
        /// What it is, for messages.
        what: String,
    },
    /// A `#[relive(serde)]` field's value: a foreign type carried through
    /// its own `Serialize`/`Deserialize` at every reload. Nothing about its
    /// bytes is trusted, so it is never identical as bytes: it always
    /// travels by name, and two are compatible when `ty` is the same.
    Serde {
        /// The full Rust path of the carried type.
        ty: String,
    },
    /// The type of a `#[relive(skip)]` field, which need not be `State`: only
    /// its name, size and alignment are known. Its key is the type's path
    /// followed by `#skipped`.
    Opaque,
    /// A standard container whose own layout is fixed by the compiler
    /// (`Vec`, `VecDeque`, `Option`, `Box`, maps and sets).
    Container {
        /// The container, e.g. `Vec` or `HashMap`.
        name: String,
        /// Keys of its type parameters.
        args: Vec<String>,
    },
}

/// One field of a struct, tuple or enum variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Field name (`0`, `1`, ... for positional fields).
    pub name: String,
    /// Byte offset within the value (for the fields of an enum variant, zero
    /// unless [`defined_layout`] holds for the enum's `repr`, see [`Kind::Enum`]).
    pub offset: u64,
    /// Key of the field's type (for a skipped field, a [`Kind::Opaque`] type).
    pub ty: String,
    /// `#[relive(skip)]`: never carried; `Default` and `reloaded` re-create
    /// it. When the value around it moves as bytes, the new code drops the
    /// old value and sets `Default`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip: bool,
    /// `#[relive(reset)]`: starts from `Default` when its type changes,
    /// instead of refusing the reload.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reset: bool,
    /// `#[relive(keep)]`: a value of a persistent crate (a window, a GPU
    /// device) whose bytes move across reloads as they are; its type is an
    /// opaque scalar keyed by its name, never described, saved or migrated.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One enum variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Variant name.
    pub name: String,
    /// Its discriminant's value as the compiler computed it (explicit or
    /// implicit), as an `i128` (a `u128` discriminant keeps its bits). It
    /// crosses as a decimal string: JSON numbers do not hold 128 bits.
    #[serde(with = "decimal")]
    pub discriminant: i128,
    /// Its fields, in declaration order.
    pub fields: Vec<Field>,
}

/// An `i128` as a decimal string.
mod decimal {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(value: &i128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i128, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("not a discriminant: {text:?}")))
    }
}

impl Layout {
    /// Parses a layout from the JSON an app library returns.
    pub fn from_json(text: &[u8]) -> Result<Layout, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// The JSON form handed across the boundary.
    pub fn to_json(&self) -> String {
        // A Layout holds only strings, integers, vectors and maps: always serialisable.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The root type's definition, if the layout is well formed.
    pub fn root_def(&self) -> Option<&TypeDef> {
        self.types.get(&self.root)
    }
}

/// Whether an enum with these `repr` items has the layout that RFC 2195
/// defines (a `C` or primitive integer `repr`), so that its variants' field
/// offsets are recorded.
pub fn defined_layout(repr: &[String]) -> bool {
    const INTEGERS: [&str; 12] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    ];
    repr.iter()
        .any(|item| item == "C" || INTEGERS.contains(&item.as_str()))
}

/// Shortens a full Rust type path for messages: `alloc::vec::Vec<app::P>`
/// becomes `Vec<P>`.
pub fn short_name(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut segment = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear();
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            out.push_str(&segment);
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(&segment);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_module_paths() {
        assert_eq!(
            short_name("alloc::vec::Vec<app::Particle>"),
            "Vec<Particle>"
        );
        assert_eq!(
            short_name("std::collections::hash::map::HashMap<alloc::string::String, u32>"),
            "HashMap<String, u32>"
        );
        assert_eq!(short_name("[app::P; 4]"), "[P; 4]");
        assert_eq!(short_name("u64"), "u64");
    }

    #[test]
    fn layouts_round_trip_as_json() {
        let mut layout = Layout {
            root: "app::All".into(),
            types: BTreeMap::new(),
        };
        layout.types.insert(
            "app::All".into(),
            TypeDef {
                size: 8,
                align: 8,
                kind: Kind::Struct {
                    fields: vec![Field {
                        name: "frames".into(),
                        offset: 0,
                        ty: "u64".into(),
                        skip: false,
                        reset: true,
                        keep: false,
                    }],
                },
            },
        );
        layout.types.insert(
            "u64".into(),
            TypeDef {
                size: 8,
                align: 8,
                kind: Kind::Scalar,
            },
        );
        let back = Layout::from_json(layout.to_json().as_bytes()).expect("valid json");
        assert_eq!(back, layout);
    }
}
