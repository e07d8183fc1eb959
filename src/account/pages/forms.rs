//! Form helpers shared by the pages: reading a posted form into the API's request types, the
//! problems of a refused form shown next to the fields they name, and the field markup (a label
//! for every input, the error tied to it with `aria-describedby`).

use std::collections::HashMap;

use maud::{html, Markup};

use super::Ctx;
use crate::account::error::ApiError;

/// A posted form: every field's values in order (checkboxes may repeat a name).
#[derive(Debug, Default, Clone)]
pub struct Posted(pub HashMap<String, Vec<String>>);

impl Posted {
    /// Parse a `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Posted {
        let mut fields: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(body) {
            fields
                .entry(key.into_owned())
                .or_default()
                .push(value.into_owned());
        }
        Posted(fields)
    }

    /// The first value of `name`, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .get(name)
            .and_then(|v| v.first())
            .map(|v| v.trim())
            .unwrap_or("")
    }

    /// The value of `name`, or `None` when empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name).to_owned()).filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.get(name).cloned().unwrap_or_default()
    }

    /// Whether a checkbox `name` was ticked.
    pub fn ticked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Posted {
    type Rejection = std::convert::Infallible;

    async fn from_request(
        request: axum::extract::Request,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        // The guard has already read (and size-limited) the body once.
        let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        Ok(Posted::parse(&bytes))
    }
}

/// Why a form was refused: messages per field, and one for the form as a whole.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    fields: Vec<(String, String)>,
    general: Option<String>,
}

impl Problems {
    /// No problems.
    pub fn none() -> Problems {
        Problems::default()
    }

    /// One problem with `field`.
    pub fn field(field: &str, message: impl Into<String>) -> Problems {
        Problems {
            fields: vec![(field.to_owned(), message.into())],
            general: None,
        }
    }

    /// One problem with the whole form.
    pub fn general(message: impl Into<String>) -> Problems {
        Problems {
            fields: Vec::new(),
            general: Some(message.into()),
        }
    }

    /// The problems of an API refusal: `"name: why"` names a field (`organisation.inn` and
    /// `thresholds.silent_hours` name `inn` and `silent_hours`); anything else is general.
    pub fn from_api(error: &ApiError) -> Problems {
        let message = error.message();
        if let Some((path, why)) = message.split_once(": ") {
            let field_like = !path.is_empty()
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
            if field_like {
                let field = path.rsplit('.').next().unwrap_or(path);
                let field = field.split('[').next().unwrap_or(field);
                return Problems::field(field, why);
            }
        }
        Problems::general(message)
    }

    /// The message for `field`.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, message)| message.as_str())
    }

    /// The summary shown above the form: the general problem, or a pointer to the fields.
    pub fn summary(&self, ctx: &Ctx) -> Markup {
        html! {
            @if let Some(general) = &self.general {
                p.error role="alert" { (general) }
            } @else if !self.fields.is_empty() {
                p.error role="alert" { (ctx.t("form.check_fields")) }
            }
        }
    }
}

/// A labelled input `name` of `kind` with `value`, and its problem if any.
pub fn input(
    ctx: &Ctx,
    problems: &Problems,
    name: &str,
    label_key: &str,
    kind: &str,
    value: &str,
    required: bool,
) -> Markup {
    input_with_id(
        ctx,
        problems,
        &format!("f-{name}"),
        name,
        label_key,
        kind,
        value,
        required,
    )
}

/// [`input`] with its element id given (when two forms on a page share field names).
#[allow(clippy::too_many_arguments)]
pub fn input_with_id(
    ctx: &Ctx,
    problems: &Problems,
    id: &str,
    name: &str,
    label_key: &str,
    kind: &str,
    value: &str,
    required: bool,
) -> Markup {
    let problem = problems.of(name);
    let error_id = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (ctx.t(label_key)) }
            input id=(id) name=(name) type=(kind) value=(value) required[required]
                aria-invalid=[problem.map(|_| "true")]
                aria-describedby=[problem.map(|_| error_id.as_str())]
                autocomplete=[(kind == "password").then_some("new-password")];
            @if let Some(problem) = problem {
                span.field-error id=(error_id) data-field=(name) { (problem) }
            }
        }
    }
}

/// A labelled `select` `name` with `(value, label)` options, `selected` chosen.
pub fn select(
    ctx: &Ctx,
    problems: &Problems,
    name: &str,
    label_key: &str,
    options: &[(&str, &str)],
    selected: &str,
) -> Markup {
    select_with_id(
        ctx,
        problems,
        &format!("f-{name}"),
        name,
        label_key,
        options,
        selected,
    )
}

/// [`select`] with its element id given (when two forms on a page share field names).
pub fn select_with_id(
    ctx: &Ctx,
    problems: &Problems,
    id: &str,
    name: &str,
    label_key: &str,
    options: &[(&str, &str)],
    selected: &str,
) -> Markup {
    html! {
        div.field {
            label for=(id) { (ctx.t(label_key)) }
            select id=(id) name=(name) {
                @for (value, label) in options {
                    option value=(value) selected[*value == selected] { (label) }
                }
            }
            @if let Some(problem) = problems.of(name) {
                span.field-error data-field=(name) { (problem) }
            }
        }
    }
}

/// The role choices, labelled in the page's language.
pub fn role_options(ctx: &Ctx) -> Vec<(&'static str, &'static str)> {
    ["owner", "accountant", "engineer", "cashier"]
        .into_iter()
        .map(|role| (role, ctx.t(role_key(role))))
        .collect()
}

/// The message key of a role.
pub fn role_key(role: &str) -> &'static str {
    match role {
        "owner" => "role.owner",
        "accountant" => "role.accountant",
        "engineer" => "role.engineer",
        _ => "role.cashier",
    }
}

/// Parse a posted form turned JSON into an API request type; a shape error names no field.
pub fn typed<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

/// A path id, or the 404 page.
pub fn parse_id(ctx: &super::Ctx, id: &str) -> Result<i64, axum::response::Response> {
    id.parse::<i64>()
        .map_err(|_| ctx.fail(crate::account::error::ApiError::not_found("no such page")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_messages_name_their_fields() {
        let problem = |m: &str| Problems::from_api(&ApiError::bad_request("x", m.to_owned()));
        assert_eq!(
            problem("email: not an e-mail address").of("email"),
            Some("not an e-mail address")
        );
        assert_eq!(
            problem("thresholds.silent_hours: too big").of("silent_hours"),
            Some("too big")
        );
        assert_eq!(
            problem("webhook_kinds[2]: no such kind").of("webhook_kinds"),
            Some("no such kind")
        );
        let general = problem("the register is deregistered: final");
        assert!(general.of("the register is deregistered").is_none());
    }

    #[test]
    fn posted_forms_keep_repeated_fields() {
        let form = Posted::parse(b"a=1&b=x+y&a=2&c=");
        assert_eq!(form.all("a"), ["1", "2"]);
        assert_eq!(form.get("b"), "x y");
        assert_eq!(form.opt("c"), None);
        assert!(!form.ticked("d"));
    }
}
