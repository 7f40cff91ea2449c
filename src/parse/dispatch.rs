//! Run-time kernel selection. The CPU is probed once; each entry point then does
//! one `match` and calls a copy of the parser compiled for that kernel, so the
//! scanners inline into it.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, Ordering};

use super::message::{self, PResult, RequestOut, ResponseOut};
#[cfg(all(target_arch = "x86_64", fastserve_avx512))]
use super::scan::Avx512;
#[cfg(target_arch = "x86_64")]
use super::scan::{Avx2, Sse42};
use super::scan::{Scan, Swar};
use super::{Header, Mode};

/// A scanning kernel. Every kernel gives identical results. New kernels
/// come with new CPUs, so matches on it need a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kernel {
    /// Portable 8-byte SWAR words and scalar loops.
    Swar,
    /// 16-byte SSE vectors (x86_64 with SSE4.2).
    Sse42,
    /// 32-byte AVX2 vectors (x86_64 with AVX2, and BMI1/BMI2 for the bit scans).
    Avx2,
    /// 64-byte AVX-512BW vectors and mask registers (x86_64 with AVX-512F/BW
    /// and the AVX2 kernel's features). Only in builds by rustc 1.89 or later,
    /// which has the intrinsics; older compilers report it unsupported.
    Avx512,
}

static BEST: AtomicU8 = AtomicU8::new(u8::MAX);
/// Bit `k as u8` set for each supported kernel; written with `BEST`, so that
/// a forced kernel costs a load rather than a feature probe per parse.
static SUPPORTED: AtomicU8 = AtomicU8::new(0);

impl Kernel {
    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Swar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Sse42 => std::is_x86_feature_detected!("sse4.2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("sse4.2")
                    && std::is_x86_feature_detected!("bmi1")
                    && std::is_x86_feature_detected!("bmi2")
            }
            #[cfg(all(target_arch = "x86_64", fastserve_avx512))]
            Kernel::Avx512 => {
                Kernel::Avx2.is_supported()
                    && std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(not(all(target_arch = "x86_64", fastserve_avx512)))]
            Kernel::Avx512 => false,
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every kernel this CPU can run, the fastest last.
    pub fn supported() -> Vec<Kernel> {
        [Kernel::Swar, Kernel::Sse42, Kernel::Avx2, Kernel::Avx512]
            .into_iter()
            .filter(|k| k.is_supported())
            .collect()
    }

    /// The fastest supported kernel, probed on first use. `FASTSERVE_KERNEL=swar|sse42|avx2|avx512`
    /// overrides it when that kernel is supported.
    #[inline(always)]
    pub fn best() -> Kernel {
        match BEST.load(Ordering::Relaxed) {
            0 => Kernel::Swar,
            1 => Kernel::Sse42,
            2 => Kernel::Avx2,
            3 => Kernel::Avx512,
            _ => Self::probe(),
        }
    }

    #[cold]
    fn probe() -> Kernel {
        let forced = std::env::var("FASTSERVE_KERNEL")
            .ok()
            .and_then(|v| match v.as_str() {
                "swar" => Some(Kernel::Swar),
                "sse42" => Some(Kernel::Sse42),
                "avx2" => Some(Kernel::Avx2),
                "avx512" => Some(Kernel::Avx512),
                _ => None,
            });
        let all = Self::supported().iter().fold(0, |m, &k| m | 1 << k as u8);
        SUPPORTED.store(all, Ordering::Relaxed);
        let k = match forced {
            Some(k) if k.is_supported() => k,
            _ => *Self::supported().last().unwrap_or(&Kernel::Swar),
        };
        BEST.store(k as u8, Ordering::Relaxed);
        k
    }

    /// Lower-case name: `swar`, `sse42`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Swar => "swar",
            Kernel::Sse42 => "sse42",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }
}

/// Stamps out one copy of each entry point per kernel. Where there are
/// several kernels, all of them, SWAR too, stay out of line: the dispatcher
/// is then a small match, and the vector kernels do not pay for the frame and
/// registers of a SWAR parser inlined next to them.
macro_rules! kernel_entries {
    ($m:ident, $scan:ty $(, $feat:literal)?) => {
        mod $m {
            use super::*;

            #[cfg_attr(target_arch = "x86_64", inline(never))]
            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn request<'b, const STRICT: bool>(
                buf: &'b [u8],
                h: &mut [MaybeUninit<Header<'b>>],
                out: &mut RequestOut<'b>,
            ) -> PResult<usize> {
                message::request::<$scan, STRICT>(buf, h, out)
            }

            #[cfg_attr(target_arch = "x86_64", inline(never))]
            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn response<'b, const STRICT: bool>(
                buf: &'b [u8],
                h: &mut [MaybeUninit<Header<'b>>],
                out: &mut ResponseOut<'b>,
            ) -> PResult<usize> {
                message::response::<$scan, STRICT>(buf, h, out)
            }

            #[cfg_attr(target_arch = "x86_64", inline(never))]
            $(#[target_feature(enable = $feat)])?
            pub(super) unsafe fn headers<'b, const STRICT: bool>(
                buf: &'b [u8],
                h: &mut [MaybeUninit<Header<'b>>],
                n: &mut usize,
            ) -> PResult<usize> {
                message::fields::<$scan, STRICT>(&mut <$scan as Scan>::new(), buf, 0, h, n)
            }
        }
    };
}

kernel_entries!(swar, Swar);
#[cfg(target_arch = "x86_64")]
kernel_entries!(sse42, Sse42, "sse4.2");
#[cfg(target_arch = "x86_64")]
kernel_entries!(avx2, Avx2, "avx2,sse4.2,bmi1,bmi2");
#[cfg(all(target_arch = "x86_64", fastserve_avx512))]
kernel_entries!(avx512, Avx512, "avx512f,avx512bw,avx2,sse4.2,bmi1,bmi2");

macro_rules! dispatch {
    ($k:expr, $mode:expr, $f:ident ($($a:expr),*)) => {{
        let strict = $mode == Mode::Strict;
        // SAFETY: a kernel other than Swar is only chosen when `is_supported`
        // said so (`Kernel::best`), or by a caller who checked it (tests and
        // benches go through `Kernel::supported`).
        unsafe {
            match ($k, strict) {
                #[cfg(all(target_arch = "x86_64", fastserve_avx512))]
                (Kernel::Avx512, true) => avx512::$f::<true>($($a),*),
                #[cfg(all(target_arch = "x86_64", fastserve_avx512))]
                (Kernel::Avx512, false) => avx512::$f::<false>($($a),*),
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx2, true) => avx2::$f::<true>($($a),*),
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx2, false) => avx2::$f::<false>($($a),*),
                #[cfg(target_arch = "x86_64")]
                (Kernel::Sse42, true) => sse42::$f::<true>($($a),*),
                #[cfg(target_arch = "x86_64")]
                (Kernel::Sse42, false) => sse42::$f::<false>($($a),*),
                (_, true) => swar::$f::<true>($($a),*),
                (_, false) => swar::$f::<false>($($a),*),
            }
        }
    }};
}

#[inline(always)]
fn checked(k: Kernel) -> Kernel {
    // A forced kernel the CPU lacks would be undefined behaviour; fall back.
    // `best` probes first, which fills `SUPPORTED`; a stale read of it (on
    // another thread, mid-probe) only falls back to SWAR.
    if k == Kernel::Swar
        || k == Kernel::best()
        || SUPPORTED.load(Ordering::Relaxed) & 1 << k as u8 != 0
    {
        k
    } else {
        Kernel::Swar
    }
}

#[inline(always)]
pub(crate) fn request<'b>(
    k: Kernel,
    mode: Mode,
    buf: &'b [u8],
    h: &mut [MaybeUninit<Header<'b>>],
    out: &mut RequestOut<'b>,
) -> PResult<usize> {
    dispatch!(checked(k), mode, request(buf, h, out))
}

#[inline(always)]
pub(crate) fn response<'b>(
    k: Kernel,
    mode: Mode,
    buf: &'b [u8],
    h: &mut [MaybeUninit<Header<'b>>],
    out: &mut ResponseOut<'b>,
) -> PResult<usize> {
    dispatch!(checked(k), mode, response(buf, h, out))
}

#[inline(always)]
pub(crate) fn headers<'b>(
    k: Kernel,
    mode: Mode,
    buf: &'b [u8],
    h: &mut [MaybeUninit<Header<'b>>],
    n: &mut usize,
) -> PResult<usize> {
    dispatch!(checked(k), mode, headers(buf, h, n))
}
