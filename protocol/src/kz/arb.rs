//! proptest strategies shared by the derived `Arbitrary` impls (tests only).

use proptest::prelude::*;

/// Short vectors keep nested messages small enough for many cases per test.
pub(crate) fn small_vec<T: Arbitrary>() -> impl Strategy<Value = Vec<T>> {
    proptest::collection::vec(any::<T>(), 0..3)
}
