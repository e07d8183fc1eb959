//! The web cabinet: HTML pages served by the account service at `/`, beside `/api/v1`.
//!
//! Design:
//! - Templates are `maud` macros: HTML written in Rust, checked by the compiler (a misspelt
//!   variable or an unclosed element is a build error), escaped by default, no template files to
//!   ship or find at run time and no build step. (askama would check too, but needs template
//!   files and a derive per page; maud keeps each page's markup beside its handler.)
//! - Pages are thin: a page handler calls the API's own handler functions in-process (for
//!   example `registers::list`), with the same [`Caller`] the API would build, so scoping by
//!   organisation, role rights, validation and audit are exactly the API's; a page never runs
//!   its own queries and never calls itself over HTTP. The API's field-named errors
//!   (`"email: not an e-mail address"`) are shown next to the form field they name
//!   ([`forms::Problems`]).
//! - Authentication is the API's: the session cookie set by login (HttpOnly, SameSite=Strict),
//!   resolved by [`auth::resolve_caller`]. Operator staff, who have operator keys and no
//!   sessions yet, sign in on `/operator/login` with their key; it is kept in an HttpOnly,
//!   SameSite=Strict cookie and checked on every request like a bearer key.
//! - CSRF: every POST to a page must carry a `csrf` form field equal to
//!   `hex(sha256("ofd-csrf\0" + ofd_csrf cookie + "\0" + credential cookie))`. `ofd_csrf` is a
//!   random HttpOnly SameSite=Strict cookie set on the first page visit; binding the token to
//!   the session (or operator) cookie means a planted `ofd_csrf` cookie alone does not forge
//!   it, and SameSite=Strict keeps both cookies off cross-site requests anyway. The check is one
//!   middleware in front of every page route ([`guard`]), so no form can forget it; a mismatch is
//!   a 403 page. The JSON API is untouched (it takes JSON only, which a cross-site form cannot
//!   send without a CORS preflight).
//! - Headers on every answer of the service: a Content-Security-Policy without inline script
//!   or style (`default-src 'none'`, stylesheet from self, `frame-ancestors 'none'`,
//!   `form-action 'self'`), X-Frame-Options DENY, nosniff, Referrer-Policy no-referrer
//!   ([`security_headers`]). Pages are `Cache-Control: no-store`; the stylesheet is cacheable.
//! - No JavaScript at all: every action is a form POST answered by a page or a redirect
//!   (POST/redirect/GET, except where a secret is shown once: that answer is the page itself).
//! - Every page's server time goes into the `ofd_account_page_seconds{page}` histogram, labelled
//!   by route template.
//! - Languages: [`i18n`]. Everything the pages say comes from the message catalogues.
//! - Other page groups (points of sale, documents, reports, money, applications) are further
//!   files here with their routes added in [`router`] and links in [`NAV`]: `pos.rs` (points of
//!   sale, registers grouped by them, batch actions, CSV import), `register_more.rs` (the rest
//!   of a register's page), `money.rs`, `tax_apps.rs` (applications), `wired.rs`,
//!   `operator_more.rs` (the console's queues and the support view), `esign_login.rs`,
//!   `profile.rs` (the user's own settings: linked e-signatures), with
//!   their small shared pieces in `parts.rs`.
//! - Without a language the visitor chose (`?lang=` or its cookie), a signed-in page speaks the
//!   organisation's: Kazakh for a KZ organisation, Russian otherwise ([`Signed`]).

// A page handler's refusal is itself a page (`Result<Response, Response>`, axum's idiom for
// early returns); boxing every error page would buy nothing on this path.
#![allow(clippy::result_large_err)]

mod alerts;
mod audit;
mod auth_pages;
mod esign_login;
mod forms;
mod home;
pub mod i18n;
mod keys;
mod money;
mod operator;
mod operator_more;
mod parts;
mod pos;
mod profile;
mod register_more;
mod registers;
mod staff;
// Documents and reports (web1).
mod charts;
mod documents;
mod local_time;
mod reports;
mod tax_apps;
mod wired;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use sha2::{Digest as _, Sha256};

use super::auth::{self, cookie, Caller, SESSION_COOKIE};
use super::error::ApiError;
use super::AppState;
use crate::store::{Actor, Role};
pub use i18n::Lang;

/// Cookie holding the anonymous half of the CSRF token.
pub const CSRF_COOKIE: &str = "ofd_csrf";
/// Cookie holding an operator's key after `/operator/login`.
pub const OPERATOR_COOKIE: &str = "ofd_operator";
/// Largest form body a page takes.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The stylesheet, served at `/static/cabinet.css`.
const STYLESHEET: &str = include_str!("static/cabinet.css");

/// A header link: path, message key, and who sees it.
type NavLink = (&'static str, &'static str, fn(&Who) -> bool);

/// The header's links.
const NAV: &[NavLink] = &[
    ("/", "nav.home", |_| true),
    ("/registers", "nav.registers", |_| true),
    ("/alerts", "nav.alerts", |_| true),
    ("/staff", "nav.staff", |w| {
        w.may(auth::Permission::ManageStaff)
    }),
    ("/keys", "nav.keys", |w| w.may(auth::Permission::ManageKeys)),
    ("/audit", "nav.audit", |w| {
        w.may(auth::Permission::ReadAudit)
    }),
    ("/operator", "nav.operator", |w| w.operator),
    // Documents and reports (web1).
    ("/documents", "doc.nav", |w| {
        w.may(auth::Permission::ReadDocuments)
    }),
    ("/reports", "report.nav", |w| {
        w.may(auth::Permission::ReadReports)
    }),
    // Points of sale, money, applications, wired connections (branch web2).
    ("/points-of-sale", "pos.nav", |w| {
        w.may(auth::Permission::ReadRegisters)
    }),
    ("/money", "money.nav", |w| {
        w.may(auth::Permission::ReadBilling)
    }),
    ("/applications", "app.nav", |w| {
        w.may(auth::Permission::ReadRegisters)
    }),
    ("/wired-requests", "wired.nav", |w| {
        w.may(auth::Permission::RequestWired)
    }),
];

/// The page routes (all behind [`guard`]).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route(
            "/signup",
            get(auth_pages::signup_form).post(auth_pages::signup),
        )
        .route(
            "/signup/confirm",
            get(auth_pages::confirm_form).post(auth_pages::confirm),
        )
        .route(
            "/login",
            get(auth_pages::login_form).post(auth_pages::login),
        )
        .route("/logout", post(auth_pages::logout))
        .route(
            "/password/forgot",
            get(auth_pages::forgot_form).post(auth_pages::forgot),
        )
        .route(
            "/password/reset",
            get(auth_pages::reset_form).post(auth_pages::reset),
        )
        .route(
            "/invitation",
            get(auth_pages::invitation_form).post(auth_pages::accept_invitation),
        )
        .route("/registers", get(registers::list).post(registers::add))
        .route("/registers/{id}", get(registers::one))
        .route("/registers/{id}/status", post(registers::set_status))
        .route("/registers/{id}/token", post(registers::reset_token))
        .route("/staff", get(staff::list).post(staff::invite))
        .route("/staff/{id}/role", post(staff::change_role))
        .route("/staff/{id}/remove", post(staff::remove))
        .route("/profile", get(profile::page))
        .route("/profile/esign", post(profile::link))
        .route("/profile/esign/{id}/unlink", post(profile::unlink))
        .route("/keys", get(keys::list).post(keys::create))
        .route("/keys/{id}/revoke", post(keys::revoke))
        .route("/audit", get(audit::list))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route(
            "/alerts/settings",
            get(alerts::settings).post(alerts::save_settings),
        )
        .route("/alerts/subscriptions", post(alerts::save_subscriptions))
        .route("/operator", get(operator::console))
        .route(
            "/operator/login",
            get(operator::login_form).post(operator::login),
        )
        // Documents and reports (web1).
        .route("/documents", get(documents::search))
        .route("/documents/export", get(documents::export))
        .route("/documents/{id}", get(documents::one))
        .route("/reports", get(reports::totals))
        .route("/reports/shifts", get(reports::shifts))
        .route("/reports/unsent", get(reports::unsent))
        .route("/reports/delivery", get(reports::delivery))
        // Points of sale, money, applications, wired connections, operator queues (branch web2).
        .route("/points-of-sale", get(pos::list).post(pos::add))
        .route("/points-of-sale/{id}", get(pos::one).post(pos::update))
        .route("/registers/batch", post(pos::batch))
        .route("/registers/import", post(pos::import))
        .route("/registers/{id}/edit", post(register_more::edit))
        .route("/registers/{id}/confirm", post(register_more::confirm))
        .route("/registers/{id}/tariff", post(register_more::activate))
        .route(
            "/registers/{id}/applications",
            post(register_more::create_application),
        )
        .route("/applications", get(tax_apps::list))
        .route("/applications/{id}", get(tax_apps::one))
        .route("/applications/{id}/submit", post(tax_apps::submit))
        .route("/applications/{id}/sign", post(tax_apps::sign))
        .route("/applications/{id}/answer", post(tax_apps::answer))
        .route("/money", get(money::page))
        .route("/invoices", post(money::create))
        .route("/invoices/{id}", get(money::one))
        .route("/invoices/{id}/paid", post(money::mark_paid))
        .route("/invoices/{id}/cancel", post(money::cancel))
        .route("/wired-requests", get(wired::list).post(wired::create))
        .route("/wired-requests/{id}/status", post(wired::change_status))
        .route("/operator/support", get(operator_more::support_by_query))
        .route("/operator/registers/{id}", get(operator_more::support))
        .route(
            "/login/esign",
            get(esign_login::form).post(esign_login::login),
        )
        .route_layer(middleware::from_fn_with_state(state, guard))
        .route("/static/cabinet.css", get(stylesheet))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// The CSRF token of a request's cookies (see the module header).
fn csrf_token(headers: &HeaderMap) -> String {
    let anonymous = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let credential = cookie(headers, SESSION_COOKIE)
        .or_else(|| cookie(headers, OPERATOR_COOKIE))
        .unwrap_or_default();
    let mut hash = Sha256::new();
    hash.update(b"ofd-csrf\0");
    hash.update(anonymous.as_bytes());
    hash.update(b"\0");
    hash.update(credential.as_bytes());
    hex::encode(hash.finalize())
}

/// The `lang` query parameter of a request, if any.
fn query_lang(request: &Request) -> Option<String> {
    request.uri().query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "lang")
            .map(|(_, value)| value.into_owned())
    })
}

/// Middleware in front of every page: times it (`ofd_account_page_seconds`), chooses the language, makes sure the CSRF cookie exists,
/// refuses a POST whose `csrf` field does not match, and remembers a `lang` choice.
async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let chosen = query_lang(&request).and_then(|q| Lang::parse(&q));
    let lang = Lang::of_request(chosen.map(Lang::code), request.headers());
    request.extensions_mut().insert(lang);
    if let Some(lang) = chosen {
        request.extensions_mut().insert(LangChosen::Now(lang));
    } else if cookie(request.headers(), i18n::LANG_COOKIE).is_some() {
        request.extensions_mut().insert(LangChosen::Before);
    }
    let mut new_csrf = None;
    if cookie(request.headers(), CSRF_COOKIE).is_none() {
        let value = super::password::new_token();
        let pair = format!("{CSRF_COOKIE}={value}");
        request.headers_mut().append(
            header::COOKIE,
            HeaderValue::from_str(&pair).expect("token is ASCII"),
        );
        new_csrf = Some(value);
    }
    if request.method() == Method::POST {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            return error_page(lang, StatusCode::PAYLOAD_TOO_LARGE, "error.too_large");
        };
        let sent = url::form_urlencoded::parse(&bytes)
            .find(|(key, _)| key == "csrf")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        let expected = csrf_token(&parts.headers);
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), expected.as_bytes()).into();
        if !matches {
            tracing::info!(path = %parts.uri.path(), "page form refused: CSRF token mismatch");
            return error_page(lang, StatusCode::FORBIDDEN, "error.csrf");
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(value) = new_csrf {
        let secure = if state.config.secure_cookie() {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!("{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{secure}");
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("ASCII"),
        );
    }
    if let Some(lang) = chosen {
        let cookie = format!(
            "{}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            i18n::LANG_COOKIE,
            lang.code()
        );
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("ASCII"),
        );
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    state
        .metrics
        .page_seconds
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Middleware over the whole service: the security headers of every answer.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Marks a request whose language the visitor chose: now (the `lang` parameter, remembered
/// for the user) or before (the cookie). Otherwise a signed-in page speaks the language the
/// user chose on another device, else the organisation's.
#[derive(Clone, Copy, Debug)]
enum LangChosen {
    /// By this request's `lang` parameter.
    Now(Lang),
    /// By the `ofd_lang` cookie.
    Before,
}

/// Who is signed in, as the header shows them.
#[derive(Clone, Debug)]
pub struct Who {
    /// The user's name or e-mail; "operator" for operator staff.
    pub label: String,
    /// Their organisation's name.
    pub org_name: Option<String>,
    /// The organisation's country (`ru`/`kz`), for money.
    pub org_kz: bool,
    /// Operator staff.
    pub operator: bool,
    /// Their role (none for operator staff).
    pub role: Option<Role>,
}

impl Who {
    /// Whether their role allows `permission`.
    pub fn may(&self, permission: auth::Permission) -> bool {
        auth::allows(self.role, permission)
    }
}

/// What every page needs: the language, the CSRF token for its forms, and who is signed in.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The language.
    pub lang: Lang,
    /// The value of every form's hidden `csrf` field.
    pub csrf: String,
    /// The request's path (for the language switch).
    pub path: String,
    /// The signed-in person, if any.
    pub who: Option<Who>,
    /// Whether login by electronic signature is offered (a verifier is configured).
    pub esign: bool,
}

impl Ctx {
    /// The text of `key`.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The text of `key` with `{}` replaced.
    pub fn t1(&self, key: &str, value: impl std::fmt::Display) -> String {
        self.lang.t1(key, value)
    }

    /// A date and time.
    pub fn when(&self, unix_ms: i64) -> String {
        self.lang.datetime(unix_ms)
    }

    /// The hidden CSRF field every form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    /// A whole page: the header with navigation and the language switch, then `body`.
    pub fn page(&self, title: &str, body: Markup) -> Response {
        self.page_with(StatusCode::OK, title, body)
    }

    /// [`Ctx::page`] with another status.
    pub fn page_with(&self, status: StatusCode, title: &str, body: Markup) -> Response {
        let markup = html! {
            (DOCTYPE)
            html lang=(self.lang.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · " (self.t("app.name")) }
                    link rel="stylesheet" href="/static/cabinet.css";
                }
                body {
                    header.top {
                        a.brand href="/" { (self.t("app.name")) }
                        @if let Some(who) = &self.who {
                            nav aria-label=(self.t("nav.label")) {
                                @for (path, key, shown) in NAV {
                                    @if shown(who) {
                                        a href=(path) aria-current=[(self.path == *path).then_some("page")] { (self.t(key)) }
                                    }
                                }
                            }
                        }
                        div.langs {
                            @for lang in Lang::ALL {
                                @if lang == self.lang {
                                    strong lang=(lang.code()) { (lang.label()) }
                                } @else {
                                    a lang=(lang.code()) href={ (self.path) "?lang=" (lang.code()) } { (lang.label()) }
                                }
                            }
                        }
                        @if let Some(who) = &self.who {
                            div.who {
                                span {
                                    @if who.operator { (who.label) } @else {
                                        a #profile-link href="/profile" title=(self.t("profile.link")) { (who.label) }
                                    }
                                    @if let Some(org) = &who.org_name { " · " (org) }
                                }
                                form method="post" action="/logout" {
                                    (self.csrf_field())
                                    button type="submit" { (self.t("nav.logout")) }
                                }
                            }
                        }
                    }
                    main {
                        h1 { (title) }
                        (body)
                    }
                }
            }
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            markup.into_string(),
        )
            .into_response()
    }

    /// The page for a refused request: 404 and 403 have their own pages; 401 goes to login.
    pub fn fail(&self, error: ApiError) -> Response {
        match error.status() {
            StatusCode::UNAUTHORIZED => Redirect::to("/login").into_response(),
            StatusCode::NOT_FOUND => error_page_in(self, StatusCode::NOT_FOUND, "error.not_found"),
            StatusCode::FORBIDDEN => error_page_in(self, StatusCode::FORBIDDEN, "error.forbidden"),
            status if status.is_client_error() => self.page_with(
                status,
                self.t("error.title"),
                html! { p.error role="alert" { (error.message()) } },
            ),
            status => error_page_in(self, status, "error.internal"),
        }
    }
}

/// An error page with the message `key`, for a visitor in `lang`.
pub fn error_page(lang: Lang, status: StatusCode, key: &str) -> Response {
    let ctx = Ctx {
        lang,
        csrf: String::new(),
        path: "/".to_owned(),
        who: None,
        esign: false,
    };
    error_page_in(&ctx, status, key)
}

fn error_page_in(ctx: &Ctx, status: StatusCode, key: &str) -> Response {
    let body = html! {
        p role="alert" { (ctx.t(key)) }
        p { a href="/" { (ctx.t("error.back_home")) } }
    };
    ctx.page_with(
        status,
        &format!("{} {}", status.as_u16(), ctx.t("error.title")),
        body,
    )
}

/// The HTML 404 for unknown paths outside `/api` (the fallback of the whole service).
pub fn not_found_page(headers: &HeaderMap) -> Response {
    error_page(
        Lang::of_request(None, headers),
        StatusCode::NOT_FOUND,
        "error.not_found",
    )
}

fn base_ctx(parts: &axum::http::request::Parts, state: &AppState) -> Ctx {
    Ctx {
        lang: parts.extensions.get::<Lang>().copied().unwrap_or_default(),
        csrf: csrf_token(&parts.headers),
        path: parts.uri.path().to_owned(),
        who: None,
        esign: state.esign.configured(),
    }
}

/// Extractor for pages anyone may open (sign-up, login …).
pub struct Visitor(pub Ctx);

impl FromRequestParts<AppState> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Visitor(base_ctx(parts, state)))
    }
}

/// Extractor for pages behind a sign-in: the context and the caller, exactly as the API would
/// see them. Without a live session (or operator cookie) the answer is a redirect to `/login`.
pub struct Signed(pub Ctx, pub Caller);

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut ctx = base_ctx(parts, state);
        let session = cookie(&parts.headers, SESSION_COOKIE);
        let operator = cookie(&parts.headers, OPERATOR_COOKIE);
        if session.is_none() && operator.is_none() {
            return Err(Redirect::to("/login").into_response());
        }
        let source = auth::source_of(&parts.extensions);
        let line = format!("{} {}", parts.method, parts.uri.path());
        // An operator cookie is only ever set for operator keys; an organisation's key in it is
        // refused so that a browser never acts as a program.
        let caller = match auth::resolve_caller(state, operator, session, source, &line).await {
            Ok(caller) => caller,
            Err(error) if error.status() == StatusCode::UNAUTHORIZED => {
                return Err(Redirect::to("/login").into_response())
            }
            Err(error) => return Err(ctx.fail(error)),
        };
        let who = match caller.0.actor() {
            Actor::User { id, org_id, role } => {
                let user = caller.0.user(*id).await.ok().flatten();
                let org = caller.0.organisation(*org_id).await.ok().flatten();
                Who {
                    label: user
                        .map(|u| if u.name.is_empty() { u.email } else { u.name })
                        .unwrap_or_default(),
                    org_kz: org
                        .as_ref()
                        .is_some_and(|o| o.country == crate::store::Country::Kz),
                    org_name: org.map(|o| o.short_name.unwrap_or(o.name)),
                    operator: false,
                    role: Some(*role),
                }
            }
            Actor::Operator { .. } => Who {
                label: ctx.t("who.operator").to_owned(),
                org_name: None,
                org_kz: false,
                operator: true,
                role: None,
            },
            Actor::Key { .. } => return Err(Redirect::to("/login").into_response()),
        };
        // A language chosen now is remembered for the user (on every device); without a choice
        // in this browser (parameter or cookie), the user's remembered one applies, else the
        // organisation's country decides: Kazakh for a KZ organisation, Russian otherwise.
        if !who.operator {
            match parts.extensions.get::<LangChosen>() {
                Some(LangChosen::Now(lang)) => {
                    if let Err(error) = caller.0.set_own_lang(lang.code()).await {
                        tracing::warn!(%error, "could not remember the chosen language");
                    }
                }
                Some(LangChosen::Before) => {}
                None => {
                    let remembered = caller.0.own_lang().await.ok().flatten();
                    ctx.lang = remembered
                        .as_deref()
                        .and_then(Lang::parse)
                        .unwrap_or(if who.org_kz { Lang::Kk } else { Lang::Ru });
                }
            }
        }
        ctx.who = Some(who);
        Ok(Signed(ctx, caller))
    }
}

/// Turn an API refusal into the page for it: `api_call(…).await.or_page(&ctx)?`.
pub trait OrPage<T> {
    /// The value, or the error page.
    fn or_page(self, ctx: &Ctx) -> Result<T, Response>;
}

impl<T> OrPage<T> for Result<T, ApiError> {
    fn or_page(self, ctx: &Ctx) -> Result<T, Response> {
        self.map_err(|error| ctx.fail(error))
    }
}

/// A notice shown at the top of a page (after a redirect: `?done=<key>`).
pub fn notice(ctx: &Ctx, key: Option<&str>) -> Markup {
    match key.and_then(|key| ctx.lang.lookup(&format!("done.{key}"))) {
        Some(text) => html! { p.notice role="status" { (text) } },
        None => PreEscaped(String::new()),
    }
}

/// A redirect after a successful POST, with a notice for the next page.
pub fn see_other(path: &str, done: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}done={done}")).into_response()
}
