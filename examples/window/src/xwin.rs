//! The X11 window that outlives every generation of the code that draws in
//! it: opened once through Xlib, kept in the state as plain integers, and
//! drawn into by whichever generation runs.
//!
//! Why this is sound, in short (the crate docs tell the whole story):
//! - The window belongs to the X server and its connection (`Display`) to
//!   libX11. Neither is code of a generation, so closing a generation's
//!   library leaves both intact. The state holds only their handles.
//! - Every generation loads libX11 through `x11-dl`, which keeps its
//!   `dlopen` handle in a static that is never dropped, so libX11 is never
//!   unloaded while the process runs.
//! - Nothing here hands Xlib a pointer into this library (no error handler,
//!   no callbacks), so Xlib never calls into code that a reload closes.
//! - relive calls into one generation at a time, so the connection is never
//!   used by two threads at once (and libX11 locks itself as well).
//! - [`WindowHandle`] has no `Drop`: relive keeps a copy of the state while
//!   new code runs its first frame, and dropping that copy must not close
//!   the window. The connection closes when the process exits.
//! - The handle records the process that opened it: a state that relive
//!   restores in a new process after a crash opens a new window instead of
//!   using a connection of the dead process.

use std::ffi::CString;
use std::sync::OnceLock;

use x11_dl::xlib::{self, Xlib};

/// Handles of an open window: plain integers, so they can live in the state
/// and reach the next generation unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, relive::State)]
pub struct WindowHandle {
    /// Address of the Xlib `Display`, which libX11 allocated and owns.
    pub display: usize,
    /// The X window id.
    pub window: u64,
    /// The `WM_DELETE_WINDOW` atom a window manager sends on close.
    pub wm_delete: u64,
    /// Current size in pixels.
    pub width: u32,
    /// Current size in pixels.
    pub height: u32,
    /// The process that opened the connection. After a crash relive
    /// restores the state in a new process, where this handle means
    /// nothing: the window is opened again (the old one died with the
    /// crashed process).
    pub pid: u32,
}

/// libX11's entry points, loaded once per generation.
fn xlib() -> Result<&'static Xlib, String> {
    static XLIB: OnceLock<Result<Xlib, String>> = OnceLock::new();
    XLIB.get_or_init(|| {
        Xlib::open().map_err(|err| {
            format!("cannot load libX11 ({err}); install it (Debian: apt-get install libx11-6)")
        })
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl WindowHandle {
    /// Whether this handle names a window this process opened.
    pub fn is_open(&self) -> bool {
        self.display != 0 && self.pid == std::process::id()
    }

    fn display(&self) -> *mut xlib::Display {
        std::ptr::with_exposed_provenance_mut(self.display)
    }

    /// Opens a connection to `$DISPLAY` and maps a new window on it.
    pub fn open(title: &str, width: u32, height: u32) -> Result<WindowHandle, String> {
        let x = xlib()?;
        // SAFETY: XInitThreads takes no arguments and runs before the
        // connection is opened (libX11 1.8 and later call it themselves).
        unsafe { (x.XInitThreads)() };
        // SAFETY: a null name means "use $DISPLAY".
        let display = unsafe { (x.XOpenDisplay)(std::ptr::null()) };
        if display.is_null() {
            let name = std::env::var("DISPLAY").unwrap_or_default();
            return Err(format!(
                "cannot open the X display {name:?}; run this example in a desktop session \
                 (X11 or XWayland), or start `Xvfb :1` and set DISPLAY=:1"
            ));
        }
        // SAFETY: `display` is the live connection opened above; every call
        // gets handles that this connection returned.
        let (window, wm_delete) = unsafe {
            let screen = (x.XDefaultScreen)(display);
            let depth = (x.XDefaultDepth)(display, screen);
            let visual = (x.XDefaultVisual)(display, screen);
            let true_colour = !visual.is_null()
                && (*visual).red_mask == 0xff_0000
                && (*visual).green_mask == 0x00_ff00
                && (*visual).blue_mask == 0x00_00ff;
            if depth < 24 || !true_colour {
                (x.XCloseDisplay)(display);
                return Err(format!(
                    "the X display's default visual is not 24-bit true colour (depth {depth}); \
                     this example draws 0xRRGGBB pixels: use a 24-bit display \
                     (Xvfb: -screen 0 640x480x24)"
                ));
            }
            let root = (x.XRootWindow)(display, screen);
            let black = (x.XBlackPixel)(display, screen);
            let window =
                (x.XCreateSimpleWindow)(display, root, 0, 0, width, height, 0, black, black);
            (x.XSelectInput)(display, window, xlib::StructureNotifyMask);
            let mut wm_delete = (x.XInternAtom)(display, c"WM_DELETE_WINDOW".as_ptr(), xlib::False);
            (x.XSetWMProtocols)(display, window, &mut wm_delete, 1);
            (x.XMapWindow)(display, window);
            (x.XSync)(display, xlib::False);
            (window, wm_delete)
        };
        let handle = WindowHandle {
            display: display.expose_provenance(),
            window,
            wm_delete,
            width,
            height,
            pid: std::process::id(),
        };
        handle.set_title(title)?;
        Ok(handle)
    }

    /// Sets the window's title.
    pub fn set_title(&self, title: &str) -> Result<(), String> {
        let x = xlib()?;
        let title = CString::new(title).map_err(|_| "a window title cannot hold a NUL byte")?;
        // SAFETY: the handle is open (callers check `is_open`); the title is
        // a valid C string for the call.
        unsafe {
            (x.XStoreName)(self.display(), self.window, title.as_ptr());
            (x.XFlush)(self.display());
        }
        Ok(())
    }

    /// Resizes the window (the same window: it is not re-created).
    pub fn resize(&mut self, width: u32, height: u32) -> Result<(), String> {
        let x = xlib()?;
        // SAFETY: the handle is open; the window belongs to this connection.
        unsafe {
            (x.XResizeWindow)(self.display(), self.window, width, height);
            (x.XSync)(self.display(), xlib::False);
        }
        self.width = width;
        self.height = height;
        Ok(())
    }

    /// Shows `pixels` (0xRRGGBB, row by row, `width * height` of them) and
    /// waits until the X server has them, so a screenshot sees this frame.
    pub fn present(&self, pixels: &mut [u32], width: u32, height: u32) -> Result<(), String> {
        if pixels.len() != width as usize * height as usize {
            return Err(format!(
                "present: {} pixels for a {width}x{height} frame",
                pixels.len()
            ));
        }
        let x = xlib()?;
        let display = self.display();
        // SAFETY: the handle is open; the image borrows `pixels`, which
        // outlive it, and is detached from them before it is destroyed, so
        // Xlib frees only its own header.
        unsafe {
            let screen = (x.XDefaultScreen)(display);
            let image = (x.XCreateImage)(
                display,
                (x.XDefaultVisual)(display, screen),
                (x.XDefaultDepth)(display, screen) as u32,
                xlib::ZPixmap,
                0,
                pixels.as_mut_ptr().cast(),
                width,
                height,
                32,
                0,
            );
            if image.is_null() {
                return Err("XCreateImage failed: out of memory?".into());
            }
            (*image).byte_order = if cfg!(target_endian = "little") {
                xlib::LSBFirst
            } else {
                xlib::MSBFirst
            };
            let gc = (x.XDefaultGC)(display, screen);
            (x.XPutImage)(display, self.window, gc, image, 0, 0, 0, 0, width, height);
            (*image).data = std::ptr::null_mut();
            (x.XDestroyImage)(image);
            (x.XSync)(display, xlib::False);
        }
        Ok(())
    }

    /// Reads pending events; returns whether the user closed the window.
    pub fn closed(&self) -> Result<bool, String> {
        let x = xlib()?;
        let display = self.display();
        let mut closed = false;
        // SAFETY: the handle is open; XNextEvent fills the whole event, an
        // all-zero XEvent is valid to start from, and the union field read
        // matches the event's type.
        unsafe {
            while (x.XPending)(display) > 0 {
                let mut event: xlib::XEvent = std::mem::zeroed();
                (x.XNextEvent)(display, &mut event);
                match event.get_type() {
                    xlib::ClientMessage => {
                        let atom = event.client_message.data.get_long(0) as u64;
                        closed |= atom == self.wm_delete;
                    }
                    xlib::DestroyNotify => closed |= event.destroy_window.window == self.window,
                    _ => {}
                }
            }
        }
        Ok(closed)
    }
}
