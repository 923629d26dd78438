//! Reading the fields of a struct or variant and their `#[relive(...)]`
//! attributes.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Fields, Index};

/// What a field asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// Carried across reloads (the default).
    Carry,
    /// `#[relive(skip)]`: never carried.
    Skip,
    /// `#[relive(reset)]`: `Default` instead of a refusal when its type changes.
    Reset,
}

/// One field.
#[derive(Clone)]
pub struct Member {
    /// How to reach it: `name` or `0`.
    pub access: TokenStream,
    /// Its name in layouts and saved states: `name` or `0`.
    pub label: String,
    /// A local variable name for it in patterns.
    pub binding: syn::Ident,
    /// Its type.
    pub ty: syn::Type,
    /// Its attribute.
    pub attr: Attr,
}

fn attr(field: &syn::Field) -> syn::Result<Attr> {
    let mut found = Attr::Carry;
    for attribute in field.attrs.iter().filter(|a| a.path().is_ident("relive")) {
        attribute.parse_nested_meta(|meta| {
            let next = if meta.path.is_ident("skip") {
                Attr::Skip
            } else if meta.path.is_ident("reset") {
                Attr::Reset
            } else {
                return Err(meta.error("expected `skip` or `reset`"));
            };
            if found != Attr::Carry && found != next {
                return Err(meta.error("a field is either `skip` or `reset`, not both"));
            }
            found = next;
            Ok(())
        })?;
    }
    Ok(found)
}

/// The fields, in declaration order.
pub fn members(fields: &Fields) -> syn::Result<Vec<Member>> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (access, label, binding) = match &f.ident {
                Some(ident) => (
                    quote!(#ident),
                    ident.to_string(),
                    format_ident!("__relive_{}", ident),
                ),
                None => {
                    let index = Index::from(i);
                    (
                        quote!(#index),
                        i.to_string(),
                        format_ident!("__relive_{}", i),
                    )
                }
            };
            Ok(Member {
                access,
                label,
                binding,
                ty: f.ty.clone(),
                attr: attr(f)?,
            })
        })
        .collect()
}
