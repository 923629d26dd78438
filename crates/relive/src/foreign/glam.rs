//! glam 0.30: vectors, quaternions and matrices of `f32` (and the common
//! `f64`, `i32` and `u32` vectors). Each is described as a struct of its
//! components (`x`, `y`, ... or `x_axis`, `y_axis`, ...) at consecutive
//! offsets of the component's size; the SIMD-backed types (`Vec3A`, `Vec4`,
//! `Quat`, `Mat2`, `Mat3A`, `Mat4` on x86) have exactly that layout in
//! memory too, which the tests check type by type. They are plain data, so
//! a `Vec<Vec2>` moves as bytes and snapshots as one `memcpy`; a migration
//! saves them by component name, so a component added (`Vec2` to `Vec3`)
//! starts from zero.

use glam::{
    DVec2, DVec3, DVec4, IVec2, IVec3, IVec4, Mat2, Mat3, Mat3A, Mat4, Quat, UVec2, UVec3, UVec4,
    Vec2, Vec3, Vec3A, Vec4,
};
use relive_abi::layout::Kind;
use serde::{Deserializer, Serializer};

use crate::__rt::Missing;
use crate::state::{Carry, LayoutBuilder, State};

/// Loads a struct of `N` components of `C` by name, missing ones zero.
fn load_components<'de, D: Deserializer<'de>, C: State + Default, const N: usize>(
    deserializer: D,
    names: &'static [&'static str; N],
) -> Result<[C; N], D::Error> {
    use serde::de::{MapAccess, Visitor};
    struct Components<C, const N: usize>(&'static [&'static str; N], std::marker::PhantomData<C>);
    impl<'de, C: State + Default, const N: usize> Visitor<'de> for Components<C, N> {
        type Value = [C; N];
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a map of components {:?}", self.0)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<[C; N], A::Error> {
            let mut out: [C; N] = std::array::from_fn(|_| C::default());
            while let Some(key) = map.next_key::<String>()? {
                match self.0.iter().position(|n| *n == key) {
                    Some(i) => {
                        if let Missing::Present(value) = map.next_value::<Missing<C>>()? {
                            out[i] = value;
                        }
                    }
                    None => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(Components(names, std::marker::PhantomData))
}

/// `State` for a glam type `$ty` with components `$name` of type `$c`,
/// read with `$get` and built with `$make` from an array of them.
macro_rules! glam_type {
    ($($ty:ty: $c:ty, [$($name:ident),+], $make:expr;)*) => {$(
        // SAFETY: the components lie at consecutive offsets of their size
        // (checked for every type in the tests below); they are plain data.
        unsafe impl State for $ty {
            const POD: bool = true;

            fn describe(layout: &mut LayoutBuilder) -> String {
                layout.add::<Self>(|layout| Kind::Struct {
                    fields: [$(stringify!($name)),+]
                        .iter()
                        .enumerate()
                        .map(|(i, name)| layout.field::<$c>(name, i * size_of::<$c>()))
                        .collect(),
                })
            }
            fn snapshot(&self) -> Self {
                *self
            }
            fn save<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                const NAMES: &[&str] = &[$(stringify!($name)),+];
                let mut state = serializer.serialize_struct(stringify!($ty), NAMES.len())?;
                $(state.serialize_field(stringify!($name), &Carry(&self.$name))?;)+
                state.end()
            }
            fn load<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                const NAMES: &[&str; [$(stringify!($name)),+].len()] = &[$(stringify!($name)),+];
                let make: fn([$c; NAMES.len()]) -> Self = $make;
                load_components::<D, $c, { NAMES.len() }>(deserializer, NAMES).map(make)
            }
        }
    )*};
}

glam_type! {
    Vec2: f32, [x, y], Vec2::from_array;
    Vec3: f32, [x, y, z], Vec3::from_array;
    Vec3A: f32, [x, y, z], Vec3A::from_array;
    Vec4: f32, [x, y, z, w], Vec4::from_array;
    Quat: f32, [x, y, z, w], Quat::from_array;
    DVec2: f64, [x, y], DVec2::from_array;
    DVec3: f64, [x, y, z], DVec3::from_array;
    DVec4: f64, [x, y, z, w], DVec4::from_array;
    IVec2: i32, [x, y], IVec2::from_array;
    IVec3: i32, [x, y, z], IVec3::from_array;
    IVec4: i32, [x, y, z, w], IVec4::from_array;
    UVec2: u32, [x, y], UVec2::from_array;
    UVec3: u32, [x, y, z], UVec3::from_array;
    UVec4: u32, [x, y, z, w], UVec4::from_array;
    Mat2: Vec2, [x_axis, y_axis], |[x, y]| Mat2::from_cols(x, y);
    Mat3: Vec3, [x_axis, y_axis, z_axis], |[x, y, z]| Mat3::from_cols(x, y, z);
    Mat3A: Vec3A, [x_axis, y_axis, z_axis], |[x, y, z]| Mat3A::from_cols(x, y, z);
    Mat4: Vec4, [x_axis, y_axis, z_axis, w_axis], |[x, y, z, w]| Mat4::from_cols(x, y, z, w);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Load;

    /// The bytes at each described field offset are that component.
    fn check<T: State + Copy, C: State + Copy + PartialEq + std::fmt::Debug>(
        value: T,
        parts: &[C],
    ) {
        let layout = LayoutBuilder::layout_of::<T>();
        let def = layout.root_def().expect("described");
        assert_eq!(def.size as usize, size_of::<T>());
        assert_eq!(def.align as usize, align_of::<T>());
        let Kind::Struct { fields } = &def.kind else {
            panic!("not a struct: {def:?}");
        };
        assert_eq!(fields.len(), parts.len());
        for (field, part) in fields.iter().zip(parts) {
            assert!(field.offset as usize + size_of::<C>() <= size_of::<T>());
            // SAFETY: the offset is inside the value (checked above) and `C`
            // is a plain number type or a plain glam type, readable unaligned.
            let read = unsafe {
                std::ptr::read_unaligned(
                    (&value as *const T)
                        .cast::<u8>()
                        .add(field.offset as usize)
                        .cast::<C>(),
                )
            };
            assert_eq!(read, *part, "{} of {}", field.name, layout.root);
        }
        let bytes = rmp_serde::to_vec_named(&Carry(&value)).expect("save");
        let back = rmp_serde::from_slice::<Load<T>>(&bytes).expect("load").0;
        // SAFETY: plain data of the same type, compared as bytes (no padding
        // is read: every component was written by the constructor).
        let same = unsafe {
            std::slice::from_raw_parts((&back as *const T).cast::<u8>(), size_of::<T>())
                [..fields.len() * size_of::<C>()]
                == std::slice::from_raw_parts((&value as *const T).cast::<u8>(), size_of::<T>())
                    [..fields.len() * size_of::<C>()]
        };
        assert!(same, "{} round trip", layout.root);
    }

    #[test]
    fn every_glam_type_has_its_described_layout() {
        check(Vec2::new(1.0, 2.0), &[1.0f32, 2.0]);
        check(Vec3::new(1.0, 2.0, 3.0), &[1.0f32, 2.0, 3.0]);
        check(Vec3A::new(1.0, 2.0, 3.0), &[1.0f32, 2.0, 3.0]);
        check(Vec4::new(1.0, 2.0, 3.0, 4.0), &[1.0f32, 2.0, 3.0, 4.0]);
        check(
            Quat::from_xyzw(0.1, 0.2, 0.3, 0.9),
            &[0.1f32, 0.2, 0.3, 0.9],
        );
        check(DVec2::new(1.0, 2.0), &[1.0f64, 2.0]);
        check(DVec3::new(1.0, 2.0, 3.0), &[1.0f64, 2.0, 3.0]);
        check(DVec4::new(1.0, 2.0, 3.0, 4.0), &[1.0f64, 2.0, 3.0, 4.0]);
        check(IVec2::new(-1, 2), &[-1i32, 2]);
        check(IVec3::new(-1, 2, 3), &[-1i32, 2, 3]);
        check(IVec4::new(-1, 2, 3, 4), &[-1i32, 2, 3, 4]);
        check(UVec2::new(1, 2), &[1u32, 2]);
        check(UVec3::new(1, 2, 3), &[1u32, 2, 3]);
        check(UVec4::new(1, 2, 3, 4), &[1u32, 2, 3, 4]);
        let (a, b) = (Vec2::new(1.0, 2.0), Vec2::new(3.0, 4.0));
        check(Mat2::from_cols(a, b), &[a, b]);
        let (a, b, c) = (Vec3::X, Vec3::new(1.0, 2.0, 3.0), Vec3::Z);
        check(Mat3::from_cols(a, b, c), &[a, b, c]);
        let (a, b, c) = (Vec3A::X, Vec3A::new(1.0, 2.0, 3.0), Vec3A::Z);
        check(Mat3A::from_cols(a, b, c), &[a, b, c]);
        let cols = [Vec4::X, Vec4::Y, Vec4::new(1.0, 2.0, 3.0, 4.0), Vec4::W];
        check(Mat4::from_cols(cols[0], cols[1], cols[2], cols[3]), &cols);
        assert_eq!((size_of::<Vec3A>(), align_of::<Vec3A>()), (16, 16));
    }

    #[test]
    fn a_vec2_widens_to_a_vec3_by_component_name() {
        let bytes = rmp_serde::to_vec_named(&Carry(&Vec2::new(1.0, 2.0))).expect("save");
        let wide = rmp_serde::from_slice::<Load<Vec3>>(&bytes).expect("load").0;
        assert_eq!(wide, Vec3::new(1.0, 2.0, 0.0));
        assert!(<Vec<Vec2> as State>::snapshot(&vec![Vec2::ONE; 3]).len() == 3);
        const { assert!(<Mat4 as State>::POD) };
    }
}
