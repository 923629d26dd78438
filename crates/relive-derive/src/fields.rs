//! Reading the fields of a struct or variant and their `#[relive(...)]`
//! attributes.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{Fields, Index, spanned::Spanned};

/// What a field asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// Carried across reloads (the default).
    Carry,
    /// `#[relive(skip)]`: never carried.
    Skip,
    /// `#[relive(reset)]`: `Default` instead of a refusal when its type changes.
    Reset,
    /// `#[relive(keep)]`: a value of a persistent crate, moved as it is;
    /// never snapshotted, saved or migrated (`Default` in those cases).
    Keep,
}

impl Attr {
    /// Whether the field is left out of snapshots, saves and loads (which
    /// give it its `Default`).
    pub fn unsaved(self) -> bool {
        matches!(self, Attr::Skip | Attr::Keep)
    }
}

/// One field.
#[derive(Clone)]
pub struct Member {
    /// `#[relive(serde)]`: carried through the type's own serde impls, as a
    /// `relive::Serde<T>`.
    pub serde: bool,
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

fn attr(field: &syn::Field) -> syn::Result<(Attr, bool)> {
    let mut found = Attr::Carry;
    let mut serde = false;
    for attribute in field.attrs.iter().filter(|a| a.path().is_ident("relive")) {
        attribute.parse_nested_meta(|meta| {
            if meta.path.is_ident("serde") {
                if found == Attr::Skip {
                    return Err(meta.error("a skipped field is not carried: drop `serde`"));
                }
                if found == Attr::Keep {
                    return Err(meta.error("a kept field is never saved: drop `serde`"));
                }
                serde = true;
                return Ok(());
            }
            let next = if meta.path.is_ident("skip") {
                Attr::Skip
            } else if meta.path.is_ident("reset") {
                Attr::Reset
            } else if meta.path.is_ident("keep") {
                Attr::Keep
            } else {
                return Err(meta.error("expected `skip`, `reset`, `keep` or `serde`"));
            };
            if serde && next == Attr::Skip {
                return Err(meta.error("a skipped field is not carried: drop `serde`"));
            }
            if serde && next == Attr::Keep {
                return Err(meta.error("a kept field is never saved: drop `serde`"));
            }
            if found != Attr::Carry && found != next {
                return Err(meta.error("a field takes only one of `skip`, `reset` and `keep`"));
            }
            found = next;
            Ok(())
        })?;
    }
    Ok((found, serde))
}

impl Member {
    /// The type the `State` impl works with: the field's own, or
    /// `relive::Serde<T>` for a `#[relive(serde)]` field. Spanned at the
    /// field, so that a missing `State` impl is reported there.
    pub fn state_ty(&self) -> TokenStream {
        let ty = &self.ty;
        if self.serde {
            quote_spanned!(ty.span()=> ::relive::Serde<#ty>)
        } else {
            quote_spanned!(ty.span()=> #ty)
        }
    }

    /// `value` (a reference to the field) as a reference to [`Self::state_ty`].
    pub fn view(&self, value: TokenStream) -> TokenStream {
        if self.serde {
            quote!(::relive::Serde::from_ref(#value))
        } else {
            value
        }
    }

    /// A loaded `state_ty` value as the field's own type.
    pub fn unwrap(&self, value: TokenStream) -> TokenStream {
        if self.serde { quote!(#value.0) } else { value }
    }
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
            let (attr, serde) = attr(f)?;
            Ok(Member {
                serde,
                access,
                label,
                binding,
                ty: f.ty.clone(),
                attr,
            })
        })
        .collect()
}
