//! The OpenAPI 3 document of the account API, generated from the handlers' annotations and the
//! request and answer types (utoipa), served at `/api/openapi.json`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    alerts, applications, catalogue, documents, esign_login, exports, identity, invoices,
    organisations, points_of_sale, register_batch, registers, reports, staff, tariffs,
    wired_requests,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "ofd account API", description = "The cabinet's identity (login by password or electronic signature), organisations, staff, \
        API keys, audit log, registers, tariffs, invoices, wired-connection requests, the \
        product catalogue, client alerts, documents (search, receipt, exports) and reports (shifts, \
        totals, unsent documents, delivery). Errors are {\"error\":{\"code\",\"message\"}}."),
    paths(
        identity::signup, identity::confirm_post, identity::confirm_get, identity::login,
        identity::logout, identity::forgot, identity::reset, identity::accept_invitation,
        identity::me, identity::change_password,
        esign_login::challenge, esign_login::login, esign_login::list, esign_login::link,
        esign_login::unlink,
        staff::list_users, staff::invite, staff::update_user, staff::remove_user,
        staff::cashier_registers, staff::assign_registers, staff::set_kz_cashier,
        staff::list_keys, staff::create_key, staff::revoke_key, staff::audit,
        organisations::create, organisations::list, organisations::get_one,
        organisations::update,
        registers::provision, registers::list, registers::get_one, registers::set_status,
        registers::reset_token, registers::edit, registers::confirm, registers::versions,
        registers::history, registers::drives, registers::replace_drive,
        points_of_sale::create, points_of_sale::list, points_of_sale::get_one,
        points_of_sale::update, points_of_sale::delete,
        points_of_sale::registers_by_point_of_sale,
        applications::create, applications::list, applications::list_all, applications::get_one, applications::print,
        applications::sign, applications::submit, applications::answer,
        register_batch::batch, register_batch::import,
        alerts::list, alerts::get_one, alerts::acknowledge, alerts::kinds,
        alerts::subscriptions, alerts::set_subscriptions, alerts::settings,
        alerts::set_settings, alerts::deliveries,
        tariffs::list_plans, tariffs::create_plan, tariffs::update_plan, tariffs::activate,
        tariffs::get_one, tariffs::list,
        invoices::create, invoices::list, invoices::get_one, invoices::mark_paid,
        invoices::cancel, invoices::import_payments,
        wired_requests::create, wired_requests::list, wired_requests::get_one,
        wired_requests::change_status,
        catalogue::get, catalogue::add, catalogue::update, catalogue::remove, catalogue::import,
        documents::search, documents::get_one, exports::export,
        reports::shifts, reports::totals, reports::unsent, reports::delivery,
    ),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
)]
pub struct ApiDoc;

/// The two ways to authenticate: a bearer API key and the session cookie.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                super::auth::SESSION_COOKIE,
            ))),
        );
    }
}
