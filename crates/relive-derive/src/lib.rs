//! `#[derive(relive::State)]`.
//!
//! For a struct it generates the layout description (every field's name,
//! offset and type), a deep snapshot, and the field-wise move used when a
//! reload adds, removes or reorders fields of the state struct. For an enum
//! it generates the layout description (variants and their fields) and the
//! snapshot.
#![deny(missing_docs)]

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, Index, parse_macro_input, spanned::Spanned};

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
        Data::Struct(data) => Ok(expand_struct(input, &data.fields)),
        Data::Enum(data) => Ok(expand_enum(input, data)),
        Data::Union(_) => Err(syn::Error::new(
            Span::call_site(),
            "relive::State cannot be derived for a union: its active field is unknown",
        )),
    }
}

/// `impl` generics with a `State` bound on every type parameter.
fn split(input: &DeriveInput) -> (TokenStream, TokenStream, TokenStream) {
    let mut generics = input.generics.clone();
    let params: Vec<_> = generics.type_params().map(|p| p.ident.clone()).collect();
    let where_clause = generics.make_where_clause();
    for p in params {
        where_clause
            .predicates
            .push(syn::parse_quote!(#p: ::relive::State));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    (
        quote!(#impl_generics),
        quote!(#ty_generics),
        quote!(#where_clause),
    )
}

/// The member used to access field `i` and its name in the layout.
fn members(fields: &Fields) -> Vec<(TokenStream, String, &syn::Type)> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| match &f.ident {
            Some(ident) => (quote!(#ident), ident.to_string(), &f.ty),
            None => {
                let index = Index::from(i);
                (quote!(#index), i.to_string(), &f.ty)
            }
        })
        .collect()
}

fn expand_struct(input: &DeriveInput, fields: &Fields) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = split(input);
    let members = members(fields);

    let describe = members.iter().map(|(member, label, ty)| {
        quote! {
            layout.field::<#ty>(#label, ::core::mem::offset_of!(Self, #member))
        }
    });
    let snapshot = members
        .iter()
        .map(|(member, _, _)| quote!(#member: ::relive::State::snapshot(&self.#member)));
    let assemble = members.iter().enumerate().map(|(i, (member, _, ty))| {
        quote! {
            if let ::core::option::Option::Some(&offset) = sources.get(#i) {
                if offset >= 0 {
                    // SAFETY: the caller guarantees a value of this field's exact
                    // layout at `offset` in `src`, which it gives up.
                    unsafe {
                        let moved = ::core::ptr::read(src.add(offset as usize).cast::<#ty>());
                        out.#member = moved;
                    }
                }
            }
        }
    });
    let drop_fields = members.iter().enumerate().map(|(i, (member, _, _))| {
        quote! {
            if mask.get(#i).is_some_and(|&m| m != 0) {
                // SAFETY: the caller guarantees `this` is live and that this
                // field is dropped only here.
                unsafe { ::core::ptr::drop_in_place(&raw mut (*this).#member) };
            }
        }
    });

    quote! {
        // SAFETY: offsets come from `offset_of!` and types from the fields.
        unsafe impl #impl_generics ::relive::State for #name #ty_generics #where_clause {
            fn describe(layout: &mut ::relive::state::LayoutBuilder) -> ::std::string::String {
                layout.add::<Self>(|layout| ::relive::__rt::abi::layout::Kind::Struct {
                    fields: ::std::vec![#(#describe),*],
                })
            }
            fn snapshot(&self) -> Self {
                Self { #(#snapshot),* }
            }
        }

        impl #impl_generics ::relive::state::Root for #name #ty_generics #where_clause {
            unsafe fn assemble(base: Self, src: *const u8, sources: &[i64]) -> Self {
                let mut out = base;
                #(#assemble)*
                out
            }
            unsafe fn drop_fields(this: *mut Self, mask: &[u8]) {
                #(#drop_fields)*
            }
        }
    }
}

fn expand_enum(input: &DeriveInput, data: &syn::DataEnum) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = split(input);

    let describe = data.variants.iter().map(|v| {
        let label = v.ident.to_string();
        let fields = members(&v.fields)
            .into_iter()
            .map(|(_, label, ty)| quote!(layout.field::<#ty>(#label, 0)));
        quote!(layout.variant(#label, ::std::vec![#(#fields),*]))
    });
    let snapshot = data.variants.iter().map(|v| {
        let ident = &v.ident;
        match &v.fields {
            Fields::Unit => quote!(Self::#ident => Self::#ident),
            Fields::Named(named) => {
                let names: Vec<_> = named.named.iter().filter_map(|f| f.ident.clone()).collect();
                quote! {
                    Self::#ident { #(#names),* } => Self::#ident {
                        #(#names: ::relive::State::snapshot(#names)),*
                    }
                }
            }
            Fields::Unnamed(unnamed) => {
                let names: Vec<_> = (0..unnamed.unnamed.len())
                    .map(|i| format_ident!("f{}", i))
                    .collect();
                quote! {
                    Self::#ident(#(#names),*) => Self::#ident(
                        #(::relive::State::snapshot(#names)),*
                    )
                }
            }
        }
    });
    let body = if data.variants.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#snapshot),* })
    };

    quote! {
        // SAFETY: the variants and field types come from the definition; the
        // host moves enum bytes only between identical descriptions.
        unsafe impl #impl_generics ::relive::State for #name #ty_generics #where_clause {
            fn describe(layout: &mut ::relive::state::LayoutBuilder) -> ::std::string::String {
                layout.add::<Self>(|layout| ::relive::__rt::abi::layout::Kind::Enum {
                    variants: ::std::vec![#(#describe),*],
                })
            }
            fn snapshot(&self) -> Self {
                #body
            }
        }
    }
}
