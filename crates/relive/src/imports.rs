//! Manual dynamic linking for the app's own run-time symbols (graphics APIs,
//! plugins): a declared table of C functions resolved once with `dlsym` into
//! a struct of function pointers. A missing library or symbol is an error
//! that names it, at load time, never a crash at the first call; calls go
//! straight through the pointer, with no lookup or lock.

use std::ffi::{CStr, CString};

/// A library or symbol of an [`imports!`](macro@crate::imports) table that could
/// not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// The library.
    pub library: String,
    /// The missing symbol, or `None` when the library itself did not load.
    pub symbol: Option<String>,
    /// The loader's message.
    pub detail: String,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.symbol {
            Some(symbol) => write!(
                f,
                "{} has no symbol `{symbol}` ({}); check the library's version",
                self.library, self.detail
            ),
            None => write!(
                f,
                "cannot load {} ({}); install it or fix the name",
                self.library, self.detail
            ),
        }
    }
}

impl std::error::Error for ImportError {}

/// An open library of an import table. It stays loaded for the life of the
/// process (the table's pointers may be copied anywhere).
#[doc(hidden)]
#[derive(Debug)]
pub struct Opened {
    name: String,
    handle: *mut std::ffi::c_void,
}

fn dlerror_text() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string owned by the
    // loader, valid until the next dl call on this thread; it is copied now.
    let text = unsafe { libc::dlerror() };
    if text.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-null, NUL-terminated (see above).
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Opened {
    /// Opens `name` with `RTLD_NOW | RTLD_LOCAL`.
    pub fn open(name: &str) -> Result<Opened, ImportError> {
        let fail = |detail: String| ImportError {
            library: name.to_string(),
            symbol: None,
            detail,
        };
        let c_name = CString::new(name).map_err(|_| fail("the name contains a NUL byte".into()))?;
        // SAFETY: a valid C string; loading runs the library's initialisers,
        // which is what the app asked for by declaring the import.
        let handle = unsafe { libc::dlopen(c_name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(fail(dlerror_text()));
        }
        Ok(Opened {
            name: name.to_string(),
            handle,
        })
    }

    /// The address of `symbol`.
    pub fn symbol(&self, symbol: &str) -> Result<*mut std::ffi::c_void, ImportError> {
        let fail = |detail: String| ImportError {
            library: self.name.clone(),
            symbol: Some(symbol.to_string()),
            detail,
        };
        let c_symbol =
            CString::new(symbol).map_err(|_| fail("the name contains a NUL byte".into()))?;
        // SAFETY: a live handle and a valid C string.
        let address = unsafe { libc::dlsym(self.handle, c_symbol.as_ptr()) };
        if address.is_null() {
            return Err(fail(dlerror_text()));
        }
        Ok(address)
    }
}

/// Declares a table of C functions from a shared library, resolved once:
///
/// ```
/// relive::imports! {
///     /// The C maths library.
///     pub struct Libm from "libm.so.6" {
///         fn cos(x: f64) -> f64;
///         fn sqrt(x: f64) -> f64;
///     }
/// }
///
/// let m = Libm::load().expect("libm is there");
/// // SAFETY: `cos` has exactly the declared C signature.
/// assert_eq!(unsafe { (m.cos)(0.0) }, 1.0);
/// ```
///
/// `load` returns an [`ImportError`](crate::imports::ImportError) naming the
/// library or the first missing symbol.
#[macro_export]
macro_rules! imports {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident from $library:literal {
            $( fn $func:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? ; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name {
            $( pub $func: unsafe extern "C" fn($($ty),*) $(-> $ret)?, )*
        }

        impl $name {
            /// Opens the library and resolves every symbol, once.
            pub fn load() -> ::core::result::Result<Self, $crate::imports::ImportError> {
                let library = $crate::imports::Opened::open($library)?;
                let table = $name {
                    $( $func: {
                        let address = library.symbol(::core::stringify!($func))?;
                        // SAFETY: the declaration states the symbol's C
                        // signature; a function pointer has the size of an
                        // address.
                        unsafe {
                            ::core::mem::transmute::<
                                *mut ::core::ffi::c_void,
                                unsafe extern "C" fn($($ty),*) $(-> $ret)?,
                            >(address)
                        }
                    }, )*
                };
                // The pointers may be copied anywhere: keep the library loaded.
                ::core::mem::forget(library);
                ::core::result::Result::Ok(table)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::imports! {
        struct Libm from "libm.so.6" {
            fn cos(x: f64) -> f64;
        }
    }

    crate::imports! {
        #[expect(dead_code, reason = "only loading is exercised")]
        struct Broken from "libm.so.6" {
            fn cos(x: f64) -> f64;
            fn no_such_function_here(x: f64) -> f64;
        }
    }

    crate::imports! {
        #[expect(dead_code, reason = "only loading is exercised")]
        struct Missing from "libdoes-not-exist.so.9" {
            fn f();
        }
    }

    #[test]
    fn tables_resolve_once_and_name_what_is_missing() {
        let m = Libm::load().expect("libm");
        // SAFETY: cos has this C signature.
        assert_eq!(unsafe { (m.cos)(0.0) }, 1.0);
        let err = Broken::load().expect_err("missing symbol");
        assert_eq!(err.symbol.as_deref(), Some("no_such_function_here"));
        assert!(err.to_string().contains("no_such_function_here"));
        let err = Missing::load().expect_err("missing library");
        assert_eq!(err.symbol, None);
        assert!(err.to_string().contains("libdoes-not-exist.so.9"));
    }
}
