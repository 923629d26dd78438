//! `#[relive(keep)]` fields: values of persistent crates (a window, a GPU
//! device, an audio stream) that move across reloads as they are.
//!
//! A kept value is only safe to move while the code that made it stays
//! loaded: that is true of a persistent `dylib` (loaded once for the life of
//! the runner), never of the reloaded app library. The derive cannot know
//! which crate a type comes from, so the host checks it here from the
//! layout: the type key of a kept field (its `type_name`, e.g.
//! `core::option::Option<minifb::Window>`) must not name the app's own
//! crate (the first path segment of the state type's key). The check is by
//! name: a type of the app re-exported through a persistent crate cannot
//! exist (a persistent crate cannot depend on the app).

use relive_abi::layout::{Kind, Layout, short_name};

/// A kept field: where it is and its type's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// Its path, e.g. `All.window`.
    pub path: String,
    /// Its type's key.
    pub ty: String,
}

/// The kept fields of the structs reachable from the state in `layout`.
pub fn kept_fields(layout: &Layout) -> Vec<Kept> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![(layout.root.clone(), short_name(&layout.root))];
    while let Some((key, path)) = stack.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(def) = layout.types.get(&key) else {
            continue;
        };
        let fields = match &def.kind {
            Kind::Struct { fields } | Kind::Tuple { fields } => fields.iter().collect(),
            Kind::Enum { variants, .. } => variants.iter().flat_map(|v| &v.fields).collect(),
            Kind::Array { elem, .. } => {
                stack.push((elem.clone(), format!("{path}[]")));
                Vec::new()
            }
            Kind::Container { args, .. } => {
                stack.extend(args.iter().map(|a| (a.clone(), format!("{path}[]"))));
                Vec::new()
            }
            Kind::Scalar | Kind::Pinned { .. } | Kind::Serde { .. } | Kind::Opaque => Vec::new(),
        };
        for field in fields.into_iter().filter(|f| !f.skip) {
            let at = format!("{path}.{}", field.name);
            if field.keep {
                out.push(Kept {
                    path: at,
                    ty: field.ty.clone(),
                });
            } else {
                stack.push((field.ty.clone(), at));
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Refuses a layout with a kept field whose type comes from the app's own
/// crate: its code and vtables go away with the generation that made it.
pub fn check(layout: &Layout) -> Result<(), String> {
    let app = crate_of(&layout.root);
    for kept in kept_fields(layout) {
        if crates_named(&kept.ty).any(|c| c == app) {
            return Err(format!(
                "`#[relive(keep)]` on {} (a `{}`) names a type of the app crate `{app}`, whose code reloads; \
                 keep only values of persistent crates (a `dylib` of the workspace the app depends on), \
                 or derive `relive::State` for it and drop `keep`",
                kept.path, kept.ty
            ));
        }
    }
    Ok(())
}

/// The crate of a type key: its first path segment.
fn crate_of(key: &str) -> &str {
    key.split("::").next().unwrap_or(key)
}

/// The first segment of every path in a type key
/// (`core::option::Option<app::Thing>` gives `core`, `app`).
fn crates_named(key: &str) -> impl Iterator<Item = &str> {
    key.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter(|part| part.contains("::"))
        .map(crate_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use relive_abi::layout::{Field, TypeDef};

    fn layout_with(kept_ty: &str) -> Layout {
        let mut layout = Layout {
            root: "app::All".into(),
            ..Layout::default()
        };
        let field = |name: &str, ty: &str, keep| Field {
            name: name.into(),
            offset: 0,
            ty: ty.into(),
            skip: false,
            reset: false,
            keep,
        };
        layout.types.insert(
            "app::All".into(),
            TypeDef {
                size: 16,
                align: 8,
                kind: Kind::Struct {
                    fields: vec![
                        field("frames", "u64", false),
                        field("window", kept_ty, true),
                    ],
                },
            },
        );
        layout
    }

    #[test]
    fn a_kept_type_of_a_persistent_crate_is_accepted() {
        let layout = layout_with("core::option::Option<minifb::Window>");
        assert_eq!(
            kept_fields(&layout),
            vec![Kept {
                path: "All.window".into(),
                ty: "core::option::Option<minifb::Window>".into()
            }]
        );
        check(&layout).expect("minifb is not the app");
    }

    #[test]
    fn a_kept_type_of_the_app_crate_is_refused() {
        for ty in [
            "app::Sprite",
            "core::option::Option<app::Sprite>",
            "alloc::vec::Vec<(u8, app::inner::Thing)>",
        ] {
            let err = check(&layout_with(ty)).expect_err(ty);
            assert!(err.contains("All.window"), "{err}");
            assert!(err.contains("app crate `app`"), "{err}");
        }
        // A crate whose name merely starts like the app's is not the app.
        check(&layout_with("apple::Pie")).expect("apple is another crate");
    }

    mod v1 {
        #[derive(Default, relive::State)]
        pub struct All {
            pub frames: u64,
            #[relive(keep)]
            pub file: Option<std::fs::File>,
        }
    }

    mod inserted {
        #[derive(Default, relive::State)]
        pub struct All {
            pub speed: f64,
            pub frames: u64,
            #[relive(keep)]
            pub file: Option<std::fs::File>,
        }
    }

    mod nested {
        #[derive(Default, relive::State)]
        pub struct Inner {
            pub a: u8,
            pub b: u16,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub frames: u64,
            #[relive(keep)]
            pub file: Option<std::fs::File>,
            pub inner: Vec<Inner>,
        }
    }

    mod nested_changed {
        #[derive(Default, relive::State)]
        pub struct Inner {
            pub b: u16,
            pub a: u8,
        }
        #[derive(Default, relive::State)]
        pub struct All {
            pub frames: u64,
            #[relive(keep)]
            pub file: Option<std::fs::File>,
            pub inner: Vec<Inner>,
        }
    }

    mod retyped {
        #[derive(Default, relive::State)]
        pub struct All {
            pub frames: u64,
            #[relive(keep)]
            pub file: Option<std::net::TcpStream>,
        }
    }

    fn of<T: relive::State>() -> Layout {
        relive::state::LayoutBuilder::layout_of::<T>()
    }

    #[test]
    fn a_kept_value_moves_as_bytes_while_its_type_stays() {
        let p = crate::plan(&of::<v1::All>(), &of::<v1::All>()).expect("same");
        assert_eq!(p.mode, crate::plan::Mode::Identical);

        let p = crate::plan(&of::<v1::All>(), &of::<inserted::All>()).expect("inserted");
        assert_eq!(p.mode, crate::plan::Mode::Fields);
        let old = std::mem::offset_of!(v1::All, file) as i64;
        assert_eq!(p.sources[2], old, "the kept field moves from its old place");
        assert!(p.reset.is_empty(), "{:?}", p.reset);
    }

    #[test]
    fn a_migration_resets_a_kept_value_and_a_changed_type_is_refused() {
        let p = crate::plan(&of::<nested::All>(), &of::<nested_changed::All>()).expect("by name");
        assert_eq!(p.mode, crate::plan::Mode::Migrate);
        assert_eq!(p.reset, vec!["All.file".to_string()]);

        let err = crate::plan(&of::<v1::All>(), &of::<retyped::All>()).expect_err("retyped");
        assert!(err.0.contains("All.file"), "{err}");
    }
}
