//! The UI's strings in Spanish (the default) and English, keyed. Every entry
//! carries both languages, so a language can never be half done; a test checks
//! that every key a template or script asks for exists.
//!
//! * [`t`]`(lang, key)` — the string, or the key itself when unknown (logged).
//! * [`Lang::from_request`] — the `lang` cookie, else the tenant's language, else `es`.
//! * [`js_strings`] — the `js.*`, `role.*` and `state.*` entries for the page's
//!   scripts (a JSON data island).

use std::collections::HashMap;
use std::sync::OnceLock;

use shared::http::Request;

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// `es` / `en` (anything else: `None`).
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim() {
            "es" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The user's choice (`lang` cookie), else the tenant's `config_tenant.language`, else Spanish.
    pub fn from_request(req: &Request, tenant_language: Option<&str>) -> Lang {
        req.cookie("lang")
            .as_deref()
            .and_then(Lang::parse)
            .or_else(|| tenant_language.and_then(Lang::parse))
            .unwrap_or(Lang::Es)
    }
}

/// (key, Spanish, English).
pub const STRINGS: &[(&str, &str, &str)] = &[
    ("a11y.skip", "Saltar al contenido", "Skip to content"),
    ("app.name", "Dashboard Industrial", "Industrial Dashboard"),
    ("app.short", "Dashboard Industrial", "Industrial Dashboard"),
    ("app.operator", "Operador del servicio", "Service operator"),
    // navigation
    ("nav.label", "Navegación principal", "Main navigation"),
    ("nav.breadcrumbs", "Ruta de navegación", "Breadcrumbs"),
    ("nav.open", "Abrir menú", "Open menu"),
    ("nav.close", "Cerrar menú", "Close menu"),
    ("nav.collapse", "Contraer menú", "Collapse menu"),
    ("nav.operation", "Operación", "Operations"),
    ("nav.lines_section", "Líneas", "Lines"),
    ("nav.admin", "Administración", "Administration"),
    ("nav.home", "Inicio", "Home"),
    ("nav.dashboard", "Panel", "Dashboard"),
    ("nav.lines", "Líneas", "Lines"),
    ("nav.downtime", "Paradas", "Downtime"),
    ("nav.reports", "Informes", "Reports"),
    ("nav.users", "Usuarios", "Users"),
    ("nav.tenants", "Clientes", "Tenants"),
    ("nav.config", "Configuración", "Configuration"),
    ("nav.profile", "Mi perfil", "My profile"),
    // header
    ("header.language", "Idioma", "Language"),
    ("header.theme", "Cambiar tema claro/oscuro", "Toggle light/dark theme"),
    ("header.user_menu", "Menú de usuario", "User menu"),
    ("header.logout", "Cerrar sesión", "Sign out"),
    // common
    ("common.actions", "Acciones", "Actions"),
    ("common.cancel", "Cancelar", "Cancel"),
    ("common.close", "Cerrar", "Close"),
    ("common.delete", "Eliminar", "Delete"),
    ("common.edit", "Editar", "Edit"),
    ("common.inactive", "Inactiva", "Inactive"),
    ("common.load_more", "Cargar más", "Load more"),
    ("common.print", "Imprimir", "Print"),
    ("common.save", "Guardar", "Save"),
    ("common.search", "Buscar", "Search"),
    // login and session
    ("login.title", "Iniciar sesión", "Sign in"),
    ("login.subtitle", "Producción, paradas y OEE de su planta en tiempo real", "Your plant's production, downtime and OEE in real time"),
    ("login.username", "Usuario", "Username"),
    ("login.password", "Contraseña", "Password"),
    ("login.show_password", "Mostrar u ocultar la contraseña", "Show or hide the password"),
    ("login.submit", "Entrar", "Sign in"),
    ("login.signed_out", "Su sesión ha terminado. Vuelva a iniciar sesión.", "Your session has ended. Please sign in again."),
    ("session.resuming", "Reanudando la sesión…", "Resuming your session…"),
    // errors
    ("error.back", "Volver", "Go back"),
    ("error.home", "Ir al inicio", "Go home"),
    ("error.403.title", "Acceso denegado", "Access denied"),
    ("error.403.text", "Su rol no permite ver esta página. Si cree que es un error, consulte con el administrador de su planta.", "Your role does not allow this page. If you think this is a mistake, ask your plant administrator."),
    ("error.404.title", "Página no encontrada", "Page not found"),
    ("error.404.text", "La página o el elemento que busca no existe o no está a su alcance.", "The page or item you are looking for does not exist or is not available to you."),
    ("error.500.title", "Algo ha fallado", "Something went wrong"),
    ("error.500.text", "Ha ocurrido un error en el servidor; ha quedado registrado. Inténtelo de nuevo en unos momentos.", "The server hit an error; it has been logged. Please try again in a moment."),
    ("error.503.title", "Servicio no disponible", "Service unavailable"),
    ("error.503.text", "La base de datos no responde ahora mismo. Inténtelo de nuevo en unos momentos.", "The database is not answering right now. Please try again in a moment."),
    ("error.other.title", "No se pudo completar la solicitud", "The request could not be completed"),
    ("error.other.text", "Revise los datos e inténtelo de nuevo.", "Check what you entered and try again."),
    // dashboard
    ("dashboard.title", "Panel de producción", "Production dashboard"),
    ("dashboard.subtitle", "Indicadores de su planta, actualizados automáticamente", "Your plant's indicators, refreshed automatically"),
    ("dashboard.auto_refresh", "Actualización automática", "Automatic refresh"),
    ("dashboard.edit_layout", "Editar diseño", "Edit layout"),
    ("dashboard.empty", "Este panel aún no tiene widgets.", "This dashboard has no widgets yet."),
    ("dashboard.layout_invalid", "El diseño guardado no es válido; se muestra el diseño por defecto.", "The saved layout is not valid; the default layout is shown."),
    ("dashboard.superadmin", "Como operador del servicio no tiene planta: gestione los clientes.", "As the service operator you have no plant: manage the tenants."),
    // filters
    ("filters.label", "Filtros", "Filters"),
    ("filters.range", "Periodo", "Period"),
    ("filters.from", "Desde", "From"),
    ("filters.to", "Hasta", "To"),
    ("filters.line", "Línea", "Line"),
    ("filters.all_lines", "Todas las líneas", "All lines"),
    ("filters.all", "Todos", "All"),
    ("filters.reset", "Restablecer", "Reset"),
    ("filters.widget_default", "Según cada widget", "As each widget says"),
    ("range.today", "Hoy", "Today"),
    ("range.yesterday", "Ayer", "Yesterday"),
    ("range.current_shift", "Turno actual", "Current shift"),
    ("range.last_shift", "Turno anterior", "Previous shift"),
    ("range.this_week", "Esta semana", "This week"),
    ("range.last_7_days", "Últimos 7 días", "Last 7 days"),
    ("range.last_30_days", "Últimos 30 días", "Last 30 days"),
    ("range.this_month", "Este mes", "This month"),
    ("range.last_24_hours", "Últimas 24 horas", "Last 24 hours"),
    ("range.custom", "Personalizado…", "Custom…"),
    ("interval.hour", "Por hora", "Hourly"),
    ("interval.shift", "Por turno", "By shift"),
    ("interval.day", "Por día", "Daily"),
    ("interval.week", "Por semana", "Weekly"),
    ("interval.month", "Por mes", "Monthly"),
    // widgets
    ("widget.loading", "Cargando…", "Loading…"),
    ("widget.no_data", "Sin datos en este periodo", "No data in this period"),
    ("widget.refresh", "Actualizar", "Refresh"),
    ("widget.retry", "Reintentar", "Retry"),
    ("widget.show_table", "Ver como tabla", "Show as table"),
    ("widget.error", "No se pudo cargar este widget", "This widget could not be loaded"),
    ("widget.config_error", "Configuración del widget no válida", "Invalid widget configuration"),
    ("widget.rate_limited", "Demasiadas peticiones seguidas; espere {seconds} s y reintente.", "Too many requests in a row; wait {seconds} s and retry."),
    ("widget.all_lines", "Todas las líneas", "All lines"),
    ("widget.lines", "líneas", "lines"),
    ("widget.other", "Otros", "Other"),
    ("widget.no_product", "Sin producto", "No product"),
    ("kpi.target", "Objetivo", "Target"),
    ("kpi.vs_previous", "frente al periodo anterior", "vs previous period"),
    ("kpi.state", "Estado", "State"),
    ("kpi.oee", "OEE", "OEE"),
    ("kpi.availability", "Disponibilidad", "Availability"),
    ("kpi.performance", "Rendimiento", "Performance"),
    ("kpi.quality", "Calidad", "Quality"),
    ("kpi.good", "Buenas", "Good"),
    ("kpi.rejects", "Rechazos", "Rejects"),
    ("kpi.rate", "Ritmo/h", "Rate/h"),
    ("kpi.stops", "Paradas", "Stops"),
    ("kpi.micro_stops", "Microparadas", "Micro-stops"),
    ("kpi.longest", "Más larga", "Longest"),
    ("kpi.units", "uds", "units"),
    ("state.good", "en objetivo", "on target"),
    ("state.warning", "por debajo del objetivo", "below target"),
    ("state.bad", "crítico", "critical"),
    ("state.none", "sin datos", "no data"),
    ("chart.units", "Unidades", "Units"),
    ("chart.good", "Buenas", "Good"),
    ("chart.rejects", "Rechazos", "Rejects"),
    ("chart.quality", "Calidad", "Quality"),
    ("chart.target", "Objetivo", "Target"),
    ("chart.share", "Porcentaje", "Share"),
    ("chart.cumulative", "Acumulado", "Cumulative"),
    ("chart.downtime", "Tiempo de paro", "Downtime"),
    ("chart.period", "Periodo", "Period"),
    ("chart.product", "Producto", "Product"),
    ("chart.area", "Área", "Area"),
    ("chart.line", "Línea", "Line"),
    ("chart.reason", "Motivo", "Reason"),
    ("chart.value", "Valor", "Value"),
    ("chart.seconds", "Tiempo", "Time"),
    ("losses.planned", "Tiempo planificado", "Planned time"),
    ("losses.micro", "Microparadas", "Micro-stops"),
    ("losses.speed", "Pérdida de velocidad", "Speed loss"),
    ("losses.quality", "Pérdida de calidad", "Quality loss"),
    ("losses.valuable", "Tiempo productivo", "Fully productive time"),
    ("losses.run", "Tiempo en marcha", "Run time"),
    ("losses.unjustified", "Paros sin justificar", "Unjustified stops"),
    ("heatmap.day", "Día", "Day"),
    ("heatmap.total", "Total", "Total"),
    ("status.running", "En marcha", "Running"),
    ("status.stopped", "Parada", "Stopped"),
    ("status.no_data", "Sin datos", "No data"),
    ("status.since", "desde", "since"),
    ("status.rate", "Ritmo actual", "Current rate"),
    ("status.per_hour", "uds/h", "units/h"),
    ("status.open_line", "Ver línea", "Open line"),
    ("status.last_detection", "Última detección", "Last detection"),
    ("status.product", "Producto", "Product"),
    ("status.shift", "Turno", "Shift"),
    ("status.stopped_for", "Parada desde hace", "Stopped for"),
    ("shift.shift", "Turno", "Shift"),
    ("shift.date", "Fecha", "Date"),
    // lines
    ("line.subtitle", "Vista en vivo de la línea", "Live line view"),
    ("line.switch", "Cambiar de línea", "Switch line"),
    ("lines.title", "Líneas de producción", "Production lines"),
    ("lines.subtitle", "Estado en vivo de cada línea", "Live state of every line"),
    ("lines.none", "No tiene líneas asignadas.", "No lines are assigned to you."),
    // downtime
    ("downtime.title", "Paradas", "Downtime"),
    ("downtime.subtitle", "Paradas detectadas automáticamente; justifique las pendientes", "Stops found automatically; justify the pending ones"),
    ("downtime.list", "Paradas del periodo", "Stops in the period"),
    ("downtime.start", "Inicio", "Start"),
    ("downtime.line", "Línea", "Line"),
    ("downtime.duration", "Duración", "Duration"),
    ("downtime.reason", "Motivo", "Reason"),
    ("downtime.justification", "Justificación", "Justification"),
    ("downtime.justification_hint", "Qué ocurrió y qué se hizo", "What happened and what was done"),
    ("downtime.micro", "Micro", "Micro"),
    ("downtime.none", "No hay paradas en este periodo.", "No stops in this period."),
    ("downtime.include_micro", "Incluir microparadas", "Include micro-stops"),
    ("downtime.only_unjustified", "Solo sin justificar", "Only unjustified"),
    // The Pareto rows of a downtime summary without a reason / outside every shift.
    ("downtime.not_justified", "Sin justificar", "Not justified"),
    ("downtime.outside_shifts", "Fuera de turno", "Outside shifts"),
    ("downtime.justify_pending", "Justificar paradas pendientes", "Justify pending stops"),
    ("downtime.choose_reason", "Elija un motivo…", "Choose a reason…"),
    ("downtime.count", "Paradas", "Stops"),
    ("downtime.outside_planned", "Paro fuera del tiempo planificado", "Downtime outside planned time"),
    ("downtime.newest_shown", "Las {n} más recientes", "The newest {n}"),
    ("downtime.pending", "Pendientes", "Pending"),
    // Reason capture on the downtime page (issue 14: running stops, bulk, edit, the operator's prompt).
    ("downtime.running", "Paradas en curso", "Running stops"),
    ("downtime.prompt", "Estas paradas de sus líneas esperan su motivo.", "These stops of your lines are waiting for their reason."),
    ("downtime.justify_next", "Justificar la siguiente", "Justify the next one"),
    ("downtime.select", "Seleccionar esta parada", "Select this stop"),
    ("downtime.justify_selected", "Justificar selección", "Justify selection"),
    ("js.justify", "Justificar", "Justify"),
    ("js.edit", "Editar", "Edit"),
    ("js.stopped_since", "parada desde", "stopped since"),
    ("js.selected", "seleccionadas", "selected"),
    ("js.justify_stop", "Justificar parada", "Justify stop"),
    ("js.edit_reason", "Editar motivo", "Edit reason"),
    ("js.justify_running", "Justificar parada en curso", "Justify running stop"),
    ("js.justify_selected", "Justificar paradas seleccionadas", "Justify selected stops"),
    ("category.planned", "Planificada", "Planned"),
    ("category.unplanned", "No planificada", "Unplanned"),
    // reports
    ("reports.title", "Informes", "Reports"),
    ("reports.subtitle", "Informe de turno y de día: OEE, producción y paradas", "Shift and day report: OEE, production and downtime"),
    ("reports.kind", "Informe", "Report"),
    ("reports.by_shift", "Por turno", "By shift"),
    ("reports.by_hour", "Del día, por hora", "Day, hourly"),
    ("reports.date", "Fecha", "Date"),
    ("reports.csv", "Descargar CSV", "Download CSV"),
    ("reports.periods", "Detalle por periodo", "Breakdown by period"),
    ("reports.period", "Periodo", "Period"),
    ("reports.planned", "Planificado", "Planned"),
    ("reports.downtime", "Tiempo de paro", "Downtime"),
    ("reports.good", "Buenas", "Good"),
    ("reports.rejects", "Rechazos", "Rejects"),
    ("reports.total", "Total", "Total"),
    ("reports.by_reason", "Paradas por motivo", "Downtime by reason"),
    ("reports.stops", "Paradas", "Stops"),
    ("reports.printed_by", "impreso por", "printed by"),
    // admin: users
    ("users.title", "Usuarios", "Users"),
    ("users.subtitle", "Cuentas de su planta, sus roles y su estado", "Your plant's accounts, their roles and state"),
    ("users.subtitle_all", "Cuentas de todas las plantas", "Accounts of every plant"),
    ("users.new", "Nuevo usuario", "New user"),
    ("users.username", "Usuario", "Username"),
    ("users.email", "Correo electrónico", "Email"),
    ("users.role", "Rol", "Role"),
    ("users.state", "Estado", "State"),
    ("users.last_login", "Último acceso", "Last sign-in"),
    ("users.password", "Contraseña (nueva)", "Password (new)"),
    ("users.active", "Cuenta activa", "Active account"),
    ("users.none", "No hay usuarios.", "No users."),
    // admin: tenants
    ("tenants.title", "Clientes", "Tenants"),
    ("tenants.subtitle", "Empresas registradas en el servicio", "Companies registered in the service"),
    ("tenants.new", "Registrar cliente", "Register tenant"),
    ("tenants.company", "Empresa", "Company"),
    ("tenants.timezone", "Zona horaria", "Time zone"),
    ("tenants.since", "Cliente desde", "Client since"),
    ("tenants.db_name", "Base de datos del cliente", "Client database"),
    ("tenants.none", "No hay clientes registrados.", "No tenants registered."),
    ("tenants.provision_hint", "Después, prepare y compruebe su base de datos con dashctl provision-client y dashctl verify-client.", "Then prepare and check its database with dashctl provision-client and dashctl verify-client."),
    // admin: config
    ("config.title", "Configuración", "Configuration"),
    ("config.subtitle", "Umbrales de parada, motivos y diseño de los paneles", "Stop thresholds, reason codes and dashboard layouts"),
    ("config.thresholds", "Umbrales de parada", "Stop thresholds"),
    ("config.client_db", "Base de datos de la planta", "Plant database"),
    ("config.scope", "Ámbito", "Scope"),
    ("config.threshold", "Parada (s)", "Stop (s)"),
    ("config.micro", "Microparada (s)", "Micro-stop (s)"),
    ("config.plant_default", "Planta (por defecto)", "Plant (default)"),
    ("config.refresh", "Refresco de widgets (s)", "Widget refresh (s)"),
    ("config.max_days", "Días máximos por consulta", "Maximum days per query"),
    ("config.ideal_cycle", "Ciclo ideal por defecto (s)", "Default ideal cycle (s)"),
    ("config.readonly_hint", "Estos valores viven en la base de datos de su planta (system_config, production_line, failure); la aplicación los lee y nunca los modifica.", "These values live in your plant's database (system_config, production_line, failure); the application reads them and never changes them."),
    ("config.reasons", "Motivos de parada", "Reason codes"),
    ("config.code", "Código", "Code"),
    ("config.name", "Nombre", "Name"),
    ("config.category", "Categoría", "Category"),
    ("layout.title", "Diseño del panel", "Dashboard layout"),
    ("layout.hint", "Rejilla de 12 columnas: añada, mueva, redimensione, configure y quite widgets; guarde para aplicarlo.", "12-column grid: add, move, resize, configure and remove widgets; save to apply."),
    ("layout.add", "Añadir", "Add"),
    ("layout.choose_widget", "Elija un widget…", "Choose a widget…"),
    ("layout.revert", "Deshacer cambios", "Undo changes"),
    ("layout.grid", "Widgets del panel", "Dashboard widgets"),
    ("layout.remove", "Quitar widget", "Remove widget"),
    ("layout.widget_title", "Título", "Title"),
    ("layout.position", "Posición", "Position"),
    ("layout.left", "Mover a la izquierda", "Move left"),
    ("layout.right", "Mover a la derecha", "Move right"),
    ("layout.up", "Mover arriba", "Move up"),
    ("layout.down", "Mover abajo", "Move down"),
    ("layout.width", "Ancho", "Width"),
    ("layout.height", "Alto", "Height"),
    ("layout.narrower", "Más estrecho", "Narrower"),
    ("layout.wider", "Más ancho", "Wider"),
    ("layout.shorter", "Más bajo", "Shorter"),
    ("layout.taller", "Más alto", "Taller"),
    ("layout.interval", "Intervalo", "Interval"),
    ("layout.default", "Por defecto", "Default"),
    ("layout.show_table", "Mostrar la tabla bajo el gráfico", "Show the table under the chart"),
    ("layout.advanced", "Parámetros avanzados", "Advanced parameters"),
    ("layout.params_json", "Parámetros (JSON)", "Parameters (JSON)"),
    ("layout.select_hint", "Seleccione un widget de la rejilla para configurarlo.", "Select a widget on the grid to configure it."),
    // profile
    ("profile.title", "Mi perfil", "My profile"),
    ("profile.subtitle", "Su cuenta, su contraseña y sus sesiones abiertas", "Your account, password and open sessions"),
    ("profile.account", "Cuenta", "Account"),
    ("profile.email", "Correo", "Email"),
    ("profile.plant", "Planta", "Plant"),
    ("profile.lines", "Líneas", "Lines"),
    ("profile.all_lines", "Todas", "All"),
    ("profile.language", "Idioma", "Language"),
    ("profile.theme", "Tema", "Theme"),
    ("profile.password", "Cambiar contraseña", "Change password"),
    ("profile.current_password", "Contraseña actual", "Current password"),
    ("profile.new_password", "Nueva contraseña", "New password"),
    ("profile.confirm_password", "Repita la nueva", "Repeat the new one"),
    ("profile.password_hint", "Al cambiarla se cerrarán sus otras sesiones. Longitud mínima", "Changing it signs out your other sessions. Minimum length"),
    ("profile.change", "Cambiar", "Change"),
    ("profile.sessions", "Sesiones activas", "Active sessions"),
    ("profile.sessions_hint", "Máximo 3 a la vez; la más antigua se cierra al superar el límite", "At most 3 at a time; the oldest closes past the limit"),
    ("profile.device", "Dispositivo", "Device"),
    ("profile.ip", "IP", "IP"),
    ("profile.signed_in", "Inicio", "Signed in"),
    ("profile.last_activity", "Última actividad", "Last activity"),
    ("profile.this_session", "Esta sesión", "This session"),
    ("profile.revoke", "Cerrar", "Sign out"),
    ("profile.revoke_confirm", "¿Cerrar esta sesión?", "Sign out this session?"),
    ("profile.revoked", "Sesión cerrada", "Session signed out"),
    ("profile.unknown_device", "Navegador desconocido", "Unknown browser"),
    // roles
    ("role.superadmin", "Superadministrador", "Superadmin"),
    ("role.admin", "Administrador", "Administrator"),
    ("role.manager", "Responsable", "Manager"),
    ("role.operator", "Operario", "Operator"),
    ("role.viewer", "Consulta", "Viewer"),
    // scripts
    ("js.close", "Cerrar", "Close"),
    ("js.network_error", "No hay conexión con el servidor.", "The server cannot be reached."),
    ("js.request_failed", "La operación no se pudo completar.", "The operation could not be completed."),
    ("js.timeout", "El servidor tardó demasiado en responder.", "The server took too long to answer."),
    ("js.login_missing", "Escriba su usuario y su contraseña.", "Enter your username and password."),
    ("js.login_invalid", "Usuario o contraseña incorrectos.", "Wrong username or password."),
    ("js.unjustified", "Sin justificar", "Unjustified"),
    ("js.reason_required", "Elija un motivo.", "Choose a reason."),
    ("js.justify_saved", "Parada justificada.", "Stop justified."),
    ("js.password_mismatch", "Las contraseñas nuevas no coinciden.", "The new passwords do not match."),
    ("js.password_changed", "Contraseña cambiada; sus otras sesiones se han cerrado.", "Password changed; your other sessions were signed out."),
    ("js.edit_user", "Editar usuario", "Edit user"),
    ("js.new_user", "Nuevo usuario", "New user"),
    ("js.active", "Activo", "Active"),
    ("js.inactive", "Inactivo", "Inactive"),
    ("js.activate", "Activar", "Activate"),
    ("js.deactivate", "Desactivar", "Deactivate"),
    ("js.saved", "Cambios guardados.", "Changes saved."),
    ("js.deleted", "Eliminado.", "Deleted."),
    ("js.confirm_delete_user", "¿Eliminar el usuario", "Delete the user"),
    ("js.confirm_deactivate", "¿Desactivar el cliente", "Deactivate the tenant"),
    ("js.layout_blocked", "No cabe ahí: otro widget ocupa ese espacio o se sale de la rejilla.", "It does not fit there: another widget is in the way or it leaves the grid."),
    ("js.layout_saved", "Diseño guardado.", "Layout saved."),
    ("js.invalid_json", "Los parámetros no son un objeto JSON válido.", "The parameters are not a valid JSON object."),
];

fn index() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static INDEX: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    INDEX.get_or_init(|| STRINGS.iter().map(|(k, es, en)| (*k, (*es, *en))).collect())
}

/// Whether `key` is in the table.
pub fn has(key: &str) -> bool {
    index().contains_key(key)
}

/// The string for `key` in `lang`; an unknown key is returned as is (and logged),
/// so a missing translation shows up on screen instead of failing the page.
pub fn t(lang: Lang, key: &str) -> String {
    match index().get(key) {
        Some((es, en)) => match lang {
            Lang::Es => (*es).to_string(),
            Lang::En => (*en).to_string(),
        },
        None => {
            tracing::warn!(key, "missing translation");
            key.to_string()
        }
    }
}

/// The entries the page scripts use (`js.*`, `role.*`, `state.*`), as a JSON object.
pub fn js_strings(lang: Lang) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, es, en) in STRINGS {
        if k.starts_with("js.") || k.starts_with("role.") || k.starts_with("state.") {
            let v = if lang == Lang::Es { es } else { en };
            map.insert(
                (*k).to_string(),
                serde_json::Value::String((*v).to_string()),
            );
        }
    }
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_filled() {
        let mut seen = std::collections::HashSet::new();
        for (k, es, en) in STRINGS {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!es.trim().is_empty(), "{k}: Spanish missing");
            assert!(!en.trim().is_empty(), "{k}: English missing");
        }
    }

    /// The glossary of docs/oee.md is written once; the screens use its
    /// words, in both languages, for the quantities it defines.
    #[test]
    fn the_screens_use_the_glossary_terms() {
        let glossary: HashMap<&str, &str> = include_str!("../../../docs/oee.md")
            .split("## Glossary")
            .nth(1)
            .expect("docs/oee.md has a glossary")
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells.len() >= 4 && !cells[1].starts_with('-')).then(|| (cells[1], cells[2]))
            })
            .collect();
        for (key, english) in [
            ("losses.planned", "Planned time"),
            ("chart.downtime", "Downtime"),
            ("reports.downtime", "Downtime"),
            ("downtime.outside_planned", "Downtime outside planned time"),
            ("losses.run", "Run time"),
            ("losses.valuable", "Fully productive time"),
            ("kpi.availability", "Availability"),
            ("kpi.performance", "Performance"),
            ("kpi.quality", "Quality"),
        ] {
            let spanish = glossary
                .get(english)
                .unwrap_or_else(|| panic!("{english} is not in the glossary"));
            assert_eq!(t(Lang::En, key), english, "{key}");
            assert_eq!(t(Lang::Es, key), *spanish, "{key}");
        }
    }

    #[test]
    fn lookup_and_fallback() {
        assert_eq!(t(Lang::Es, "login.submit"), "Entrar");
        assert_eq!(t(Lang::En, "login.submit"), "Sign in");
        assert_eq!(t(Lang::En, "no.such.key"), "no.such.key");
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }

    #[test]
    fn language_comes_from_cookie_then_tenant() {
        let mut req = Request::new(::http::Method::GET, "/");
        assert_eq!(Lang::from_request(&req, None), Lang::Es);
        assert_eq!(Lang::from_request(&req, Some("en")), Lang::En);
        req.headers.insert(
            ::http::header::COOKIE,
            ::http::HeaderValue::from_static("lang=es"),
        );
        assert_eq!(Lang::from_request(&req, Some("en")), Lang::Es);
    }

    #[test]
    fn every_script_key_exists() {
        let js = [
            include_str!("../../../static/src/js/00-core.js"),
            include_str!("../../../static/src/js/05-htmx.js"),
            include_str!("../../../static/src/js/30-alpine.js"),
            include_str!("../../../static/src/js/40-layout-editor.js"),
        ];
        for src in js {
            for part in src.split("Dash.t('").skip(1) {
                let key = part.split('\'').next().unwrap_or("");
                if key.ends_with('.') {
                    continue; // a prefix completed at run time (role.)
                }
                assert!(has(key), "script asks for unknown key {key}");
            }
        }
    }
}
