// herald: configuration macros shared by every header.
#pragma once

// Non-template functions are defined in headers and marked HERALD_DECL, as Asio
// does with ASIO_DECL, so a compiled mode can turn them out-of-line later.
#ifndef HERALD_DECL
#define HERALD_DECL inline
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HERALD_LIKELY(x) __builtin_expect(!!(x), 1)
#define HERALD_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define HERALD_LIKELY(x) (x)
#define HERALD_UNLIKELY(x) (x)
#endif
