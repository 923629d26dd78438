//! [`State`](crate::State) for the types of the most used game and
//! simulation crates, each behind a cargo feature of `relive` named after
//! the crate: real layout descriptions, so that a `Vec` of them moves as
//! bytes at a reload, and saving by field name for migrations.

#[cfg(feature = "glam")]
mod glam;
#[cfg(feature = "indexmap")]
mod indexmap;
