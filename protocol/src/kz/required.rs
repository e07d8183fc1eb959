//! proto2 `required` enforcement.
//!
//! prost decodes proto2 `required` fields without checking that they were present, so every
//! field the spec marks `req` is declared here as `optional` (an `Option` in Rust) and checked
//! after decoding by [`Validate`]. This keeps presence visible: a round trip never invents a zero
//! that the register did not send, and a missing field is reported by name instead of silently
//! becoming 0.
//!
//! Fields that are "required since version N" are optional on the wire and are checked by the
//! server for the version it speaks, not here.

/// A required proto2 field that was absent from a decoded message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("required field {message}.{field} is missing")]
pub struct MissingField {
    /// The protobuf message that lacks the field.
    pub message: &'static str,
    /// The missing field's name as in the spec.
    pub field: &'static str,
}

/// Checks that every required field of a message (and of its present sub-messages) is set.
pub trait Validate {
    /// The first missing required field, depth first, or `Ok`.
    fn validate(&self) -> Result<(), MissingField>;
}

/// Implements [`Validate`] for a message from four lists of its fields:
/// required scalars, required sub-messages, optional sub-messages, repeated sub-messages.
macro_rules! validate {
    ($ty:ident {
        req: [$($req:ident),* $(,)?],
        req_msg: [$($req_msg:ident),* $(,)?],
        opt_msg: [$($opt_msg:ident),* $(,)?],
        rep_msg: [$($rep_msg:ident),* $(,)?] $(,)?
    }) => {
        impl $crate::kz::required::Validate for $ty {
            fn validate(&self) -> ::core::result::Result<(), $crate::kz::required::MissingField> {
                let missing = |field: &'static str| $crate::kz::required::MissingField {
                    message: stringify!($ty),
                    field,
                };
                $(
                    if self.$req.is_none() {
                        return Err(missing(stringify!($req)));
                    }
                )*
                $(
                    match &self.$req_msg {
                        Some(inner) => $crate::kz::required::Validate::validate(inner)?,
                        None => return Err(missing(stringify!($req_msg))),
                    }
                )*
                $(
                    if let Some(inner) = &self.$opt_msg {
                        $crate::kz::required::Validate::validate(inner)?;
                    }
                )*
                $(
                    for inner in &self.$rep_msg {
                        $crate::kz::required::Validate::validate(inner)?;
                    }
                )*
                let _ = missing;
                Ok(())
            }
        }
    };
}
pub(crate) use validate;
