//! What an enum's layout description needs beyond its fields' types: its
//! `repr` items, its discriminants' values and, where Rust defines the
//! layout, its variants' field offsets.
//!
//! `offset_of!` does not reach into enum variants on stable Rust, so the
//! derive generates shadow types whose layout RFC 2195 says is the enum's:
//! - `#[repr(Int)]`: a `#[repr(C)]` union of `#[repr(C)]` structs, one per
//!   variant, each starting with the tag;
//! - `#[repr(C)]` or `#[repr(C, Int)]`: a `#[repr(C)]` struct of the tag and a
//!   `#[repr(C)]` union of one `#[repr(C)]` struct per variant.
//!
//! A compile-time assertion checks that the shadow has the enum's size and
//! alignment. The discriminants' values come from a fieldless shadow enum
//! with the same `repr` and discriminant expressions. A `repr(Rust)` enum's
//! variant offsets are not observable and are recorded as 0 (see
//! `relive_abi::layout::Kind::Enum` for why comparing the rest suffices).

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::{DeriveInput, Index};

/// The primitive integer types a `repr` can name.
const INTEGERS: [&str; 12] = [
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];

/// The items of every `#[repr(..)]` attribute, sorted, without duplicates and
/// without the default `Rust`.
pub fn repr_items(input: &DeriveInput) -> syn::Result<Vec<String>> {
    let mut items = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        attr.parse_nested_meta(|meta| {
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .ok_or_else(|| meta.error("unexpected repr item"))?;
            let item = if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                let args: TokenStream = content.parse()?;
                let args: String = args.to_string().split_whitespace().collect();
                format!("{name}({args})")
            } else {
                name
            };
            items.push(item);
            Ok(())
        })?;
    }
    items.retain(|item| item != "Rust");
    items.sort();
    items.dedup();
    Ok(items)
}

/// One variant: its fields' types.
pub struct VariantTypes {
    /// Field types in declaration order.
    pub types: Vec<syn::Type>,
}

/// The generated shadow items, and how to read values from them.
pub struct Shadows {
    /// Items to place in the body of `describe`.
    pub items: TokenStream,
    /// Per variant: the discriminant's value (an `i128` expression).
    pub discriminants: Vec<TokenStream>,
    /// Per variant, per field: the offset (a `usize` expression).
    pub offsets: Vec<Vec<TokenStream>>,
}

/// Replaces `Self` in a field type (which inside a shadow item would mean the
/// shadow) by the enum's own type.
fn unself(tokens: TokenStream, this: &TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|tree| match tree {
            TokenTree::Ident(ident) if ident == "Self" => this.clone(),
            TokenTree::Group(group) => {
                let mut inner = Group::new(group.delimiter(), unself(group.stream(), this));
                inner.set_span(group.span());
                TokenTree::Group(inner).into()
            }
            other => other.into(),
        })
        .collect()
}

/// The shadow items of an enum with the given `repr` items and variants.
pub fn shadows(
    input: &DeriveInput,
    data: &syn::DataEnum,
    repr: &[String],
    variants: &[VariantTypes],
) -> Shadows {
    let name = &input.ident;
    let (decl, ty_generics, where_clause) = input.generics.split_for_impl();
    let this = quote!(#name #ty_generics);
    let int = repr.iter().find(|r| INTEGERS.contains(&r.as_str()));
    let c = repr.iter().any(|r| r == "C");
    let aligns: Vec<TokenStream> = repr
        .iter()
        .filter(|r| r.starts_with("align("))
        .filter_map(|r| r.parse().ok())
        .collect();

    if data.variants.is_empty() {
        return Shadows {
            items: quote!(),
            discriminants: Vec::new(),
            offsets: Vec::new(),
        };
    }
    // The tag: a fieldless enum with the same discriminants and repr.
    let tag_repr = match (int, c) {
        (Some(int), _) => {
            let int = format_ident!("{int}");
            quote!(#[repr(#int)])
        }
        (None, true) => quote!(#[repr(C)]),
        (None, false) => quote!(),
    };
    let tag_variants = data.variants.iter().enumerate().map(|(i, v)| {
        let ident = format_ident!("V{i}");
        match &v.discriminant {
            Some((_, expr)) => quote!(#ident = #expr),
            None => quote!(#ident),
        }
    });
    let discriminants = (0..data.variants.len())
        .map(|i| {
            let ident = format_ident!("V{i}");
            quote!(__ReliveTag::#ident as i128)
        })
        .collect();
    let mut items = quote! {
        #[allow(dead_code)]
        #[derive(Clone, Copy)]
        #tag_repr
        enum __ReliveTag { #(#tag_variants),* }
    };

    if int.is_none() && !c {
        let offsets = variants
            .iter()
            .map(|v| v.types.iter().map(|_| quote!(0usize)).collect())
            .collect();
        return Shadows {
            items,
            discriminants,
            offsets,
        };
    }

    let params: Vec<_> = input.generics.type_params().map(|p| &p.ident).collect();
    let phantom = if params.is_empty() {
        quote!()
    } else {
        quote!(::core::marker::PhantomData<fn() -> (#(#params,)*)>,)
    };
    // With `repr(Int)` alone each variant struct starts with the tag; with a
    // `C` the tag sits beside the union instead.
    let prefix = if c { quote!() } else { quote!(__ReliveTag,) };
    let first = if c { 0 } else { 1 };
    let mut union_fields = Vec::new();
    let mut offsets = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let shadow = format_ident!("__ReliveV{i}");
        let types = v.types.iter().map(|t| unself(quote!(#t), &this));
        items.extend(quote! {
            #[allow(dead_code)]
            #[repr(C)]
            struct #shadow #decl (#prefix #(#types,)* #phantom) #where_clause;
        });
        let field = format_ident!("v{i}");
        union_fields.push(quote!(#field: ::core::mem::ManuallyDrop<#shadow #ty_generics>));
        let base = if c {
            quote!(::core::mem::offset_of!(__ReliveEnum #ty_generics, 1) +)
        } else {
            quote!()
        };
        offsets.push(
            (0..v.types.len())
                .map(|f| {
                    let index = Index::from(f + first);
                    quote!(#base ::core::mem::offset_of!(#shadow #ty_generics, #index))
                })
                .collect(),
        );
    }
    let whole = if c {
        items.extend(quote! {
            #[allow(dead_code)]
            #[repr(C)]
            union __ReliveUnion #decl #where_clause { #(#union_fields),* }
            #[allow(dead_code)]
            #[repr(C #(, #aligns)*)]
            struct __ReliveEnum #decl (__ReliveTag, __ReliveUnion #ty_generics) #where_clause;
        });
        quote!(__ReliveEnum #ty_generics)
    } else {
        items.extend(quote! {
            #[allow(dead_code)]
            #[repr(C #(, #aligns)*)]
            union __ReliveUnion #decl #where_clause { #(#union_fields),* }
        });
        quote!(__ReliveUnion #ty_generics)
    };
    items.extend(quote! {
        const {
            ::core::assert!(
                ::core::mem::size_of::<#whole>() == ::core::mem::size_of::<Self>()
                    && ::core::mem::align_of::<#whole>() == ::core::mem::align_of::<Self>(),
                "relive: this enum's layout is not the one RFC 2195 defines for its repr",
            );
        }
    });
    Shadows {
        items,
        discriminants,
        offsets,
    }
}
