//! `#[derive(relive::State)]`.
//!
//! For a struct it generates the layout description (every field's name,
//! offset and type), a deep snapshot, saving and loading by field name (for
//! migrations), and the field-wise move used when a reload adds, removes or
//! reorders fields of the state struct. For an enum it generates the same
//! without the field-wise move. Field attributes: `#[relive(skip)]` (never
//! carried: `Default` and `reloaded` re-create it; its type need not be
//! `State`) and `#[relive(reset)]` (starts from `Default` when its type
//! changes, instead of refusing the reload).
#![deny(missing_docs)]

mod enum_layout;
mod fields;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{Data, DeriveInput, Fields, parse_macro_input, spanned::Spanned};

use fields::{Attr, Member, members};

/// Marks a trait whose boxed objects live in the state
/// (`relive::dyn_state!`): records a fingerprint of its definition and of
/// the layouts of the types its methods take and return, so that a reload
/// that changes the trait (its methods, their order or signatures) or a
/// type passed to its methods is never treated as leaving the old objects'
/// vtables valid. Every such type (references stripped; `Self` and the
/// trait's own objects left out, the text covers them) must be
/// `relive::State`, `str` or a slice of one: the build says which is not.
#[proc_macro_attribute]
pub fn dyn_trait(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    let attr = TokenStream::from(attr);
    let item = parse_macro_input!(item as syn::ItemTrait);
    if !attr.is_empty() {
        return syn::Error::new(attr.span(), "#[relive::dyn_trait] takes no arguments")
            .to_compile_error()
            .into();
    }
    if let Some(param) = item.generics.params.first() {
        return syn::Error::new(
            param.span(),
            "#[relive::dyn_trait] supports traits without generic parameters",
        )
        .to_compile_error()
        .into();
    }
    // FNV-1a over the definition as written.
    let text = quote!(#item).to_string();
    let fingerprint = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let ident = &item.ident;
    let types = signature_types(&item);
    let objects = [
        quote!(dyn #ident),
        quote!(dyn #ident + Send),
        quote!(dyn #ident + Send + Sync),
    ];
    let body = quote! {
        ::relive::state::signature_fingerprint::<dyn #ident>(outer, #fingerprint, |layout| {
            ::std::vec![#(
                <#types as ::relive::state::SignatureType>::describe_signature(layout)
            ),*]
        })
    };
    quote! {
        #item
        #(
            impl ::relive::state::TraitFingerprint for #objects {
                fn fingerprint(outer: &::relive::state::LayoutBuilder) -> u64 {
                    #body
                }
            }
        )*
    }
    .into()
}

/// The types that the trait's object-callable methods take and return,
/// with references stripped, leaving out those that name `Self` or the
/// trait itself (its own objects, covered by the text) and methods that are
/// not in the vtable (generic, or `where Self: Sized`).
fn signature_types(item: &syn::ItemTrait) -> Vec<syn::Type> {
    let own = item.ident.to_string();
    let mut out = Vec::new();
    for member in &item.items {
        let syn::TraitItem::Fn(method) = member else {
            continue;
        };
        let sig = &method.sig;
        let sized_only = sig.generics.where_clause.as_ref().is_some_and(|w| {
            w.predicates
                .iter()
                .any(|p| quote!(#p).to_string().replace(' ', "") == "Self:Sized")
        });
        if sized_only || sig.generics.type_params().next().is_some() {
            continue;
        }
        let inputs = sig.inputs.iter().filter_map(|arg| match arg {
            syn::FnArg::Typed(typed) => Some((*typed.ty).clone()),
            syn::FnArg::Receiver(_) => None,
        });
        let output = match &sig.output {
            syn::ReturnType::Type(_, ty) => Some((**ty).clone()),
            syn::ReturnType::Default => None,
        };
        for mut ty in inputs.chain(output) {
            while let syn::Type::Reference(r) = ty {
                ty = *r.elem;
            }
            if !mentions(quote!(#ty), &own) && !matches!(ty, syn::Type::ImplTrait(_)) {
                out.push(ty);
            }
        }
    }
    out
}

/// Whether `tokens` name `Self` or `own`, at any depth.
fn mentions(tokens: TokenStream, own: &str) -> bool {
    tokens.into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == own || i == "Self",
        proc_macro2::TokenTree::Group(g) => mentions(g.stream(), own),
        _ => false,
    })
}

/// Derives `relive::State` (and, for structs, what the state root needs).
#[proc_macro_derive(State, attributes(relive))]
pub fn derive_state(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    if let Some(lifetime) = input.generics.lifetimes().next() {
        return Err(syn::Error::new(
            lifetime.span(),
            "relive::State types must own their data: a lifetime parameter cannot survive a reload",
        ));
    }
    match &input.data {
        Data::Struct(data) => expand_struct(input, &data.fields),
        Data::Enum(data) => expand_enum(input, data),
        Data::Union(_) => Err(syn::Error::new(
            Span::call_site(),
            "relive::State cannot be derived for a union: its active field is unknown",
        )),
    }
}

/// Generics of the impls (a `State` bound on every type parameter).
struct Split {
    impl_generics: TokenStream,
    ty_generics: TokenStream,
    where_clause: TokenStream,
    /// `<T: .., const N: usize>` of the shadow type used for loading (it
    /// is an item inside `load`, so it declares the parameters again), its
    /// where clause, its serde bound, and `<T, N>` to name it.
    shadow_params: TokenStream,
    shadow_where: TokenStream,
    shadow_bound: String,
}

impl Split {
    /// What follows `impl` in an impl of `trait_` for `name`: generics,
    /// trait, type and where clause.
    fn header(&self, trait_: TokenStream, name: &syn::Ident) -> TokenStream {
        let Split {
            impl_generics,
            ty_generics,
            where_clause,
            ..
        } = self;
        quote!(#impl_generics #trait_ for #name #ty_generics #where_clause)
    }
}

fn split(input: &DeriveInput) -> Split {
    let mut generics = input.generics.clone();
    let params: Vec<_> = generics.type_params().map(|p| p.ident.clone()).collect();
    let has_params =
        generics.type_params().next().is_some() || generics.const_params().next().is_some();
    let where_clause = generics.make_where_clause();
    for p in &params {
        where_clause
            .predicates
            .push(syn::parse_quote!(#p: ::relive::State));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let shadow_bound = params
        .iter()
        .map(|p| format!("{p}: ::relive::State"))
        .collect::<Vec<_>>()
        .join(", ");
    Split {
        impl_generics: quote!(#impl_generics),
        ty_generics: quote!(#ty_generics),
        where_clause: quote!(#where_clause),
        shadow_params: if has_params {
            quote!(#impl_generics)
        } else {
            quote!()
        },
        shadow_where: quote!(#where_clause),
        shadow_bound,
    }
}

/// `Some(T::default())` where the type has a `Default`, else `None`.
fn probe_default(ty: &TokenStream) -> TokenStream {
    quote! {{
        #[allow(unused_imports)]
        use ::relive::__rt::{NoDefault as _, ViaDefault as _};
        (&&::relive::__rt::Probe::<#ty>::new()).make_default()
    }}
}

/// The statements of `reset_skipped` for these fields; `place` names a
/// field as a place expression.
fn reset_skipped(members: &[Member], place: impl Fn(&Member) -> TokenStream) -> TokenStream {
    let resets = members.iter().map(|m| {
        let (ty, label) = (&m.ty, &m.label);
        let at = place(m);
        if m.attr == Attr::Skip {
            let default = probe_default(&quote!(#ty));
            quote! {
                #at = ::core::option::Option::expect(
                    #default,
                    ::core::concat!("relive: skipped field `", #label, "` has no Default"),
                );
            }
        } else if m.serde || m.attr == Attr::Keep {
            // A serde or kept value is opaque to relive: no skipped field inside.
            quote!()
        } else {
            quote! {
                if skipped.inside::<#ty>() {
                    ::relive::State::reset_skipped(&mut #at, skipped);
                }
            }
        }
    });
    quote!(#(#resets)*)
}

/// The layout description of each field, at the given offsets.
fn describe_fields(members: &[Member], offsets: &[TokenStream]) -> Vec<TokenStream> {
    members
        .iter()
        .zip(offsets)
        .map(|(m, offset)| {
            let (label, ty) = (&m.label, m.state_ty());
            match m.attr {
                Attr::Skip => quote!(layout.skipped_field::<#ty>(#label, #offset)),
                Attr::Keep => quote!(layout.kept_field::<#ty>(#label, #offset)),
                Attr::Reset => quote!(layout.reset_field::<#ty>(#label, #offset)),
                Attr::Carry => quote!(layout.field::<#ty>(#label, #offset)),
            }
        })
        .collect()
}

/// Visits the carried members, each reached by `access`.
fn visit_members<'a>(
    members: impl Iterator<Item = &'a Member>,
    access: impl Fn(&Member) -> TokenStream,
) -> Vec<TokenStream> {
    // A `#[relive(serde)]` value is owned data (`DeserializeOwned`): it
    // cannot point into the library.
    members
        .filter(|m| !m.attr.unsaved() && !m.serde)
        .map(|m| {
            let value = access(m);
            quote!(::relive::State::visit_pins(#value, visit);)
        })
        .collect()
}

/// Shadow fields for loading: `Missing<T>` with serde defaults, skipped
/// fields left out. A `#[relive(serde)]` field loads through a helper
/// function (pushed to `helpers`) that names the field in its errors.
fn shadow_fields(members: &[Member], helpers: &mut Vec<TokenStream>) -> Vec<TokenStream> {
    members
        .iter()
        .filter(|m| !m.attr.unsaved())
        .map(|m| {
            let (ident, label, ty) = (&m.binding, &m.label, m.state_ty());
            let with = if m.attr == Attr::Reset {
                quote!(, deserialize_with = "::relive::__rt::lenient")
            } else if m.serde {
                let helper = quote::format_ident!("__relive_serde_{}", helpers.len());
                let path = helper.to_string();
                helpers.push(quote! {
                    fn #helper<'__de, __D, __T>(
                        deserializer: __D,
                    ) -> ::core::result::Result<::relive::__rt::Missing<::relive::Serde<__T>>, __D::Error>
                    where
                        __D: ::relive::__serde::Deserializer<'__de>,
                        __T: ::relive::__serde::Serialize + ::relive::__serde::de::DeserializeOwned + 'static,
                    {
                        ::relive::__rt::load_serde_field(deserializer, #label)
                    }
                });
                quote!(, deserialize_with = #path)
            } else {
                quote!()
            };
            quote! {
                #[serde(rename = #label, default #with)]
                #ident: ::relive::__rt::Missing<#ty>
            }
        })
        .collect()
}

/// The rollback copy of a carried field reached by `value` (a reference).
fn snapshot_of(m: &Member, value: TokenStream) -> TokenStream {
    if m.serde {
        quote! {{
            #[allow(unused_imports)]
            use ::relive::__rt::{ViaClone as _, ViaSerde as _};
            (&&::relive::__rt::SnapshotProbe(#value)).deep_copy()
        }}
    } else {
        quote!(::relive::State::snapshot(#value))
    }
}

/// Builds `Self` (or a variant) from loaded `Missing<T>` values, each read
/// by `source` from its binding.
fn from_shadow(
    path: &TokenStream,
    members: &[Member],
    source: impl Fn(&syn::Ident) -> TokenStream,
) -> TokenStream {
    let values = members.iter().map(|m| {
        let (binding, label, ty) = (&m.binding, &m.label, &m.ty);
        let default = probe_default(&quote!(#ty));
        let value = if m.attr.unsaved() {
            quote! {
                #default.ok_or_else(|| <__D::Error as ::relive::__serde::de::Error>::custom(
                    ::core::concat!("skipped field `", #label, "` has no Default")))?
            }
        } else {
            let from = source(binding);
            let from = if m.serde {
                quote!(#from.unwrap_serde())
            } else {
                from
            };
            quote!(#from.or_default::<__D::Error>(#default, #label)?)
        };
        let access = &m.access;
        quote!(#access: #value)
    });
    quote!(#path { #(#values),* })
}

/// The `snapshot`, `save` and `load` methods of a `State` impl. `load`
/// deserializes a `__ReliveShadow` (a `struct` or `enum`, as `shadow_kind`
/// says, with the fields or variants `shadow_body`) into a local `shadow`
/// and returns `build`.
fn state_methods(
    split: &Split,
    helpers: &[TokenStream],
    snapshot_body: TokenStream,
    save_body: TokenStream,
    shadow_kind: TokenStream,
    shadow_body: TokenStream,
    build: TokenStream,
) -> TokenStream {
    let Split {
        shadow_params,
        shadow_where,
        shadow_bound,
        ty_generics,
        ..
    } = split;
    let helpers = quote!(#(#helpers)*);
    quote! {
        fn snapshot(&self) -> Self {
            #snapshot_body
        }
        fn save<__S: ::relive::__serde::Serializer>(
            &self,
            serializer: __S,
        ) -> ::core::result::Result<__S::Ok, __S::Error> {
            #save_body
        }
        fn load<'__de, __D: ::relive::__serde::Deserializer<'__de>>(
            deserializer: __D,
        ) -> ::core::result::Result<Self, __D::Error> {
            #helpers
            #[derive(::relive::__serde::Deserialize)]
            #[serde(crate = "::relive::__serde", bound = #shadow_bound)]
            #shadow_kind __ReliveShadow #shadow_params #shadow_where #shadow_body
            let shadow: __ReliveShadow #ty_generics =
                ::relive::__serde::Deserialize::deserialize(deserializer)?;
            ::core::result::Result::Ok(#build)
        }
    }
}

/// `out.field = copy;` for every carried field, where `out` starts from the
/// struct's `Default`.
fn carried_copies(members: &[Member]) -> Vec<TokenStream> {
    members
        .iter()
        .filter(|m| !m.attr.unsaved())
        .map(|m| {
            let access = &m.access;
            let copy = snapshot_of(m, quote!(&self.#access));
            quote!(out.#access = #copy;)
        })
        .collect()
}

fn expand_struct(input: &DeriveInput, fields: &Fields) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let label = name.to_string();
    let split = split(input);
    let members = members(fields)?;
    let offsets: Vec<TokenStream> = members
        .iter()
        .map(|m| {
            let access = &m.access;
            quote!(::core::mem::offset_of!(Self, #access))
        })
        .collect();
    let describe = describe_fields(&members, &offsets);
    let pod = if members.iter().any(|m| m.attr.unsaved()) {
        quote!(false)
    } else {
        let types = members.iter().map(Member::state_ty);
        // A type with its own `Drop` owns something a bitwise copy would
        // duplicate, whatever its fields.
        quote!(!::core::mem::needs_drop::<Self>() #(&& <#types as ::relive::State>::POD)*)
    };
    let snapshot = members.iter().map(|m| {
        let access = &m.access;
        if m.attr.unsaved() {
            let ty = &m.ty;
            let default = probe_default(&quote!(#ty));
            let message = format!(
                "skipped field `{}` of `{label}` has no Default, nor has `{label}`: implement Default for either",
                m.label
            );
            quote!(#access: #default.expect(#message))
        } else {
            let copy = snapshot_of(m, quote!(&self.#access));
            quote!(#access: #copy)
        }
    });
    // Skipped fields of the copy come from the struct's own `Default` where
    // it has one (which may differ from the fields' types' defaults).
    let copies = carried_copies(&members);
    let carried: Vec<&Member> = members.iter().filter(|m| !m.attr.unsaved()).collect();
    let count = carried.len();
    let save_fields = carried.iter().map(|m| {
        let (access, label) = (&m.access, &m.label);
        let view = m.view(quote!(&self.#access));
        quote!(state.serialize_field(#label, &::relive::state::Carry(#view))?;)
    });
    let mut helpers = Vec::new();
    let shadow = shadow_fields(&members, &mut helpers);
    let per_field = from_shadow(&quote!(Self), &members, |b| quote!(shadow.#b));
    let overrides = carried.iter().map(|m| {
        let (access, binding) = (&m.access, &m.binding);
        let value = m.unwrap(quote!(value));
        quote! {
            if let ::relive::__rt::Missing::Present(value) = shadow.#binding {
                out.#access = #value;
            }
        }
    });
    let base = probe_default(&quote!(Self));
    // New fields take the struct's own `Default` where it has one (which may
    // differ from the fields' types' defaults), else their type's.
    let build = quote! {
        match #base {
            ::core::option::Option::Some(mut out) => {
                #(#overrides)*
                out
            }
            ::core::option::Option::None => #per_field,
        }
    };
    let assemble = members.iter().enumerate().map(|(i, m)| {
        let (access, ty) = (&m.access, &m.ty);
        // A moved field's own skipped fields start from `Default` (a skipped
        // field itself is never moved).
        let reset = (!m.attr.unsaved() && !m.serde).then(|| {
            quote! {
                if skipped.inside::<#ty>() {
                    ::relive::State::reset_skipped(&mut out.#access, skipped);
                }
            }
        });
        quote! {
            if let ::core::option::Option::Some(&offset) = sources.get(#i) {
                if offset >= 0 {
                    // SAFETY: the caller guarantees a value of this field's exact
                    // layout at `offset` in `src`, which it gives up.
                    unsafe {
                        let moved = ::core::ptr::read(src.add(offset as usize).cast::<#ty>());
                        out.#access = moved;
                    }
                    #reset
                }
            }
        }
    });
    let drop_fields = members.iter().enumerate().map(|(i, m)| {
        let access = &m.access;
        quote! {
            if mask.get(#i).is_some_and(|&m| m != 0) {
                // SAFETY: the caller guarantees `this` is live and that this
                // field is dropped only here.
                unsafe { ::core::ptr::drop_in_place(&raw mut (*this).#access) };
            }
        }
    });
    let base = probe_default(&quote!(Self));
    let snapshot_body = match fields {
        Fields::Unit => quote!(Self),
        _ if members.iter().any(|m| m.attr.unsaved()) => quote! {
            match #base {
                ::core::option::Option::Some(mut out) => {
                    #(#copies)*
                    out
                }
                ::core::option::Option::None => Self { #(#snapshot),* },
            }
        },
        _ => quote!(Self { #(#snapshot),* }),
    };
    // Loading goes through a shadow struct with named fields even for tuple
    // structs (fields `0`, `1`, ... are saved by those names); `Self { 0: .. }`
    // builds a tuple struct too.
    let methods = state_methods(
        &split,
        &helpers,
        snapshot_body,
        quote! {
            use ::relive::__serde::ser::SerializeStruct as _;
            let mut state = serializer.serialize_struct(#label, #count)?;
            #(#save_fields)*
            state.end()
        },
        quote!(struct),
        quote!({ #(#shadow),* }),
        build,
    );
    let resets = reset_skipped(&members, |m| {
        let access = &m.access;
        quote!(self.#access)
    });
    let state_impl = split.header(quote!(::relive::State), name);
    let root_impl = split.header(quote!(::relive::state::Root), name);
    let visits = visit_members(members.iter(), |m| {
        let access = &m.access;
        quote!(&self.#access)
    });

    Ok(quote! {
        // SAFETY: offsets come from `offset_of!` and types from the fields;
        // a struct is plain data exactly when all its fields are.
        unsafe impl #state_impl {
            const POD: bool = #pod;
            fn visit_pins(&self, visit: &mut dyn ::core::ops::FnMut(usize, bool)) {
                #(#visits)*
            }
            #[allow(unused_variables)]
            fn reset_skipped(&mut self, skipped: &::relive::state::Skipped) {
                #resets
            }
            fn describe(layout: &mut ::relive::state::LayoutBuilder) -> ::std::string::String {
                layout.add::<Self>(|layout| ::relive::__rt::abi::layout::Kind::Struct {
                    fields: ::std::vec![#(#describe),*],
                })
            }
            #methods
        }

        impl #root_impl {
            #[allow(unused_variables)]
            unsafe fn assemble(
                base: Self,
                src: *const u8,
                sources: &[i64],
                skipped: &::relive::state::Skipped,
            ) -> Self {
                let mut out = base;
                #(#assemble)*
                out
            }
            unsafe fn drop_fields(this: *mut Self, mask: &[u8]) {
                #(#drop_fields)*
            }
        }
    })
}

fn expand_enum(input: &DeriveInput, data: &syn::DataEnum) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let label = name.to_string();
    let split = split(input);
    let repr = enum_layout::repr_items(input)?;
    let all_members = data
        .variants
        .iter()
        .map(|v| members(&v.fields))
        .collect::<syn::Result<Vec<_>>>()?;
    let types: Vec<enum_layout::VariantTypes> = all_members
        .iter()
        .map(|m| enum_layout::VariantTypes {
            types: m.iter().map(|m| m.ty.clone()).collect(),
        })
        .collect();
    let shadows = enum_layout::shadows(input, data, &repr, &types);

    let mut describe = Vec::new();
    let mut reset_arms = Vec::new();
    let mut snapshot = Vec::new();
    let mut save = Vec::new();
    let mut shadow_variants = Vec::new();
    let mut load_arms = Vec::new();
    let mut visit_arms = Vec::new();
    let mut helpers = Vec::new();
    for (index, v) in data.variants.iter().enumerate() {
        let ident = &v.ident;
        let vlabel = ident.to_string();
        let members = &all_members[index];
        let fields = describe_fields(members, &shadows.offsets[index]);
        let discriminant = &shadows.discriminants[index];
        let index = index as u32;
        let visits = visit_members(members.iter(), |m| {
            let b = &m.binding;
            quote!(#b)
        });
        let all: Vec<_> = members.iter().map(|m| m.binding.clone()).collect();
        let pattern = match &v.fields {
            Fields::Unit => quote!(Self::#ident),
            Fields::Named(_) => {
                let accesses = members.iter().map(|m| &m.access);
                quote!(Self::#ident { #(#accesses: #all),* })
            }
            Fields::Unnamed(_) => quote!(Self::#ident(#(#all),*)),
        };
        visit_arms.push(quote! {
            #[allow(unused_variables)]
            #pattern => { #(#visits)* }
        });
        describe.push(quote!({
            let fields = ::std::vec![#(#fields),*];
            layout.variant(#vlabel, #discriminant, fields)
        }));
        let bindings: Vec<_> = members.iter().map(|m| m.binding.clone()).collect();
        let carried: Vec<&Member> = members.iter().filter(|m| !m.attr.unsaved()).collect();
        let count = carried.len();
        let copies = members.iter().map(|m| {
            let b = &m.binding;
            if m.attr.unsaved() {
                quote!(::core::default::Default::default())
            } else {
                snapshot_of(m, quote!(#b))
            }
        });
        let shadow = shadow_fields(members, &mut helpers);
        let resets = reset_skipped(members, |m| {
            let b = &m.binding;
            quote!(*#b)
        });
        let pattern = match &v.fields {
            Fields::Unit => quote!(Self::#ident),
            Fields::Named(_) => {
                let accesses = members.iter().map(|m| &m.access);
                quote!(Self::#ident { #(#accesses: #bindings),* })
            }
            Fields::Unnamed(_) => quote!(Self::#ident(#(#bindings),*)),
        };
        reset_arms.push(quote! {
            #[allow(unused_variables)]
            #pattern => { #resets }
        });
        match &v.fields {
            Fields::Unit => {
                snapshot.push(quote!(Self::#ident => Self::#ident));
                save.push(quote!(Self::#ident => serializer.serialize_unit_variant(#label, #index, #vlabel)));
                shadow_variants.push(quote!(#[serde(rename = #vlabel)] #ident));
                load_arms.push(quote!(__ReliveShadow::#ident => Self::#ident));
            }
            Fields::Named(_) => {
                let accesses: Vec<_> = members.iter().map(|m| m.access.clone()).collect();
                snapshot.push(quote! {
                    Self::#ident { #(#accesses: #bindings),* } => Self::#ident { #(#accesses: #copies),* }
                });
                let fields = carried.iter().map(|m| {
                    let (view, l) = (m.view(m.binding.to_token_stream()), &m.label);
                    quote!(variant.serialize_field(#l, &::relive::state::Carry(#view))?;)
                });
                save.push(quote! {
                    #[allow(unused_variables)]
                    Self::#ident { #(#accesses: #bindings),* } => {
                        use ::relive::__serde::ser::SerializeStructVariant as _;
                        let mut variant = serializer.serialize_struct_variant(#label, #index, #vlabel, #count)?;
                        #(#fields)*
                        variant.end()
                    }
                });
                shadow_variants.push(quote!(#[serde(rename = #vlabel)] #ident { #(#shadow),* }));
                let carried_bindings: Vec<_> = carried.iter().map(|m| m.binding.clone()).collect();
                let build = from_shadow(&quote!(Self::#ident), members, |b| quote!(#b));
                load_arms.push(quote!(__ReliveShadow::#ident { #(#carried_bindings),* } => #build));
            }
            Fields::Unnamed(_) => {
                snapshot.push(quote! {
                    Self::#ident(#(#bindings),*) => Self::#ident(#(#copies),*)
                });
                let fields = carried.iter().map(|m| {
                    let view = m.view(m.binding.to_token_stream());
                    quote!(variant.serialize_field(&::relive::state::Carry(#view))?;)
                });
                let single =
                    (count == 1).then(|| carried[0].view(carried[0].binding.to_token_stream()));
                save.push(if let Some(only) = single {
                    // One field: a newtype variant, as serde reads `V(T)`.
                    quote! {
                        #[allow(unused_variables)]
                        Self::#ident(#(#bindings),*) => serializer.serialize_newtype_variant(
                            #label, #index, #vlabel, &::relive::state::Carry(#only))
                    }
                } else { quote! {
                    #[allow(unused_variables)]
                    Self::#ident(#(#bindings),*) => {
                        use ::relive::__serde::ser::SerializeTupleVariant as _;
                        let mut variant = serializer.serialize_tuple_variant(#label, #index, #vlabel, #count)?;
                        #(#fields)*
                        variant.end()
                    }
                }});
                let loads = carried.iter().map(|m| {
                    let ty = m.state_ty();
                    quote!(::relive::state::Load<#ty>)
                });
                shadow_variants.push(quote!(#[serde(rename = #vlabel)] #ident(#(#loads),*)));
                let carried_bindings: Vec<_> = carried.iter().map(|m| m.binding.clone()).collect();
                let values = members.iter().map(|m| {
                    let b = &m.binding;
                    if m.attr.unsaved() {
                        let ty = &m.ty;
                        let default = probe_default(&quote!(#ty));
                        quote!(#default.ok_or_else(|| <__D::Error as ::relive::__serde::de::Error>::custom("a skipped field has no Default"))?)
                    } else {
                        m.unwrap(quote!(#b.0))
                    }
                });
                load_arms.push(quote!(__ReliveShadow::#ident(#(#carried_bindings),*) => Self::#ident(#(#values),*)));
            }
        }
    }
    let save_body = if data.variants.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#save),* })
    };
    let snapshot_body = if data.variants.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#snapshot),* })
    };
    let methods = state_methods(
        &split,
        &helpers,
        snapshot_body,
        save_body,
        quote!(enum),
        quote!({ #(#shadow_variants),* }),
        quote!(match shadow { #(#load_arms),* }),
    );
    let reset_body = if data.variants.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#reset_arms),* })
    };
    let state_impl = split.header(quote!(::relive::State), name);
    let visit_body = if data.variants.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#visit_arms),* })
    };
    let layout_items = &shadows.items;
    Ok(quote! {
        // SAFETY: the variants, field types, repr and discriminants come from
        // the definition, the offsets from shadow types of the layout RFC 2195
        // defines for the repr (checked against the enum's size and alignment)
        // or, for a `repr(Rust)` enum, are 0 (see `Kind::Enum`); the host moves
        // enum bytes only between identical descriptions.
        unsafe impl #state_impl {
            fn visit_pins(&self, visit: &mut dyn ::core::ops::FnMut(usize, bool)) {
                #visit_body
            }
            #[allow(unused_variables)]
            fn reset_skipped(&mut self, skipped: &::relive::state::Skipped) {
                #reset_body
            }
            fn describe(layout: &mut ::relive::state::LayoutBuilder) -> ::std::string::String {
                layout.add::<Self>(|layout| {
                    #layout_items
                    ::relive::__rt::abi::layout::Kind::Enum {
                        variants: ::std::vec![#(#describe),*],
                        repr: ::std::vec![#(::std::string::String::from(#repr)),*],
                    }
                })
            }
            #methods
        }
    })
}
