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
    /// An enum; variant field offsets are not recorded (Rust does not expose
    /// them), so two enums match only when everything else is identical.
    Enum {
        /// Variants in declaration order.
        variants: Vec<Variant>,
        /// The `#[repr(..)]` attribute, as written (its discriminant type
        /// and layout rules).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repr: Option<String>,
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
    /// Byte offset within the value (zero for enum variant fields).
    pub offset: u64,
    /// Key of the field's type (empty for a skipped field).
    pub ty: String,
    /// `#[relive(skip)]`: never carried; `Default` and `reloaded` re-create it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip: bool,
    /// `#[relive(reset)]`: starts from `Default` when its type changes,
    /// instead of refusing the reload.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reset: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One enum variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Variant name.
    pub name: String,
    /// Its explicit discriminant expression, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discriminant: Option<String>,
    /// Its fields, in declaration order.
    pub fields: Vec<Field>,
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
