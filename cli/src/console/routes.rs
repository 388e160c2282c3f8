//! The console's HTTP surface: the page and its two assets, the event stream, the card images,
//! and four JSON requests (look an item up, start a check, decide, move the console to this
//! tab). Every route sits behind [`guard::check`]; every JSON request names its browser tab, and
//! only the tab that drives the console may act.
//!
//! Secrets arrive only in the body of `POST /api/check` (never in an address, so never in a
//! history, a log or a Referer); the raw body is wiped once parsed, and the parsed secret is a
//! zeroizing type from then on. Parse errors never echo the body.
//!
//! A phone (level M) asks for no secret. A secret sent with level M is refused (400
//! `secret_not_asked`), not ignored: it means the page or a script believes one is needed, and
//! the holder may have typed their card's PIN or password where nothing should take it;
//! refusing says so at once, and the value is wiped like any other. The optional QR text is
//! checked to be an mdoc engagement here (400 `bad_qr`), before the phone is touched.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use honnin_core::card::{AuthPin, MatchingNumberB, SigningPassword};
use honnin_core::check::{FaceDecision, Level};
use serde::Deserialize;
use tokio::sync::oneshot;
use zeroize::{Zeroize, Zeroizing};

use super::guard::{self, Guard};
use super::state::{Console, Phase};
use super::worker::{Command, Commands, Presented, Refusal};
use crate::commands::check::Secret;

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

#[derive(Clone)]
struct App {
    console: Arc<Console>,
    commands: Commands,
}

pub fn router(console: Arc<Console>, commands: Commands, guard: Guard) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset(PAGE, "text/html; charset=utf-8") }),
        )
        .route(
            "/console.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/api/events", get(events))
        .route("/api/image/{kind}", get(image))
        .route("/api/item", post(item))
        .route("/api/check", post(start))
        .route("/api/decision", post(decide))
        .route("/api/takeover", post(take_over))
        .with_state(App { console, commands })
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
        // The largest request is a check: an item number, a level and a secret, or a phone's
        // QR text (an engagement longer than 4 KiB is refused as such by the core).
        .layer(DefaultBodyLimit::max(8 * 1024))
        .layer(axum::middleware::map_response(hardened))
}

/// Headers on every answer: nothing from elsewhere runs in the page, nothing frames it, no
/// address leaves it in a Referer, and nothing is cached.
async fn hardened(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A refusal as JSON for the page: `{error, message_en, message_ja}`.
pub fn refusal(status: StatusCode, code: &str, en: &str, ja: &str) -> Response {
    let body = serde_json::json!({ "error": code, "message_en": en, "message_ja": ja });
    (status, axum::Json(body)).into_response()
}

/// A refusal as a page, for a browser that opened an address.
pub fn refusal_page(status: StatusCode, code: &str, en: &str, ja: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=ja><meta charset=utf-8><title>honnin</title>\
         <body style=\"font:20px sans-serif;margin:3em\"><h1>honnin</h1>\
         <p id=refusal data-code=\"{code}\">{ja}</p><p lang=en>{en}</p></body></html>"
    );
    (status, Html(page)).into_response()
}

fn refused(refusal_: Refusal) -> Response {
    refusal(
        refusal_.status,
        refusal_.message.code,
        &refusal_.message.en,
        &refusal_.message.ja,
    )
}

fn bad_request() -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "The request is not one this console understands: reload the page.",
        "この画面が理解できない要求です。ページを再読み込みしてください。",
    )
}

/// Why `tab` may not act now, if it may not.
fn not_acting(app: &App, tab: &str) -> Option<Response> {
    if !valid_tab(tab) {
        Some(bad_request())
    } else if !app.console.may_act(tab) {
        Some(other_tab())
    } else {
        None
    }
}

fn other_tab() -> Response {
    refusal(
        StatusCode::CONFLICT,
        "other_tab",
        "The console is open in another tab or window: use that one, or move the console here.",
        "この画面は別のタブまたはウィンドウで開かれています。そちらを使うか、このタブに切り替えてください。",
    )
}

/// A browser tab's id: made by the page, kept for the tab's life (reloads included).
fn valid_tab(tab: &str) -> bool {
    (8..=64).contains(&tab.len()) && tab.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[derive(Deserialize)]
struct TabQuery {
    tab: String,
}

/// Closes a tab's stream in the console's bookkeeping when the browser goes away.
struct Connection {
    console: Arc<Console>,
    tab: String,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.console.disconnect(&self.tab);
    }
}

/// The state, whole, at once and after every change.
async fn events(
    State(app): State<App>,
    query: Result<Query<TabQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(Query(TabQuery { tab })) = query.ok().filter(|q| valid_tab(&q.tab)) else {
        return bad_request();
    };
    app.console.connect(&tab);
    let connection = Connection {
        console: app.console.clone(),
        tab,
    };
    let changes = app.console.subscribe();
    let stream = futures_util::stream::unfold(
        (changes, connection, true),
        |(mut changes, connection, first)| async move {
            if first {
                changes.borrow_and_update();
            } else if changes.changed().await.is_err() {
                return None;
            }
            let event = Event::default().data(connection.console.snapshot());
            Some((Ok::<_, Infallible>(event), (changes, connection, false)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
        .into_response()
}

async fn image(State(app): State<App>, Path(kind): Path<String>) -> Response {
    match app.console.image(&kind) {
        Some((bytes, media)) => ([(header::CONTENT_TYPE, media)], bytes.to_vec()).into_response(),
        None => refusal(
            StatusCode::NOT_FOUND,
            "no_image",
            "No image is shown now.",
            "表示中の画像はありません。",
        ),
    }
}

/// Parses a JSON body and wipes the raw bytes, which may hold a secret.
fn parse<T: for<'de> Deserialize<'de>>(body: Bytes) -> Option<T> {
    let mut raw: Vec<u8> = body.into();
    let parsed = serde_json::from_slice(&raw).ok();
    raw.zeroize();
    parsed
}

/// Sends `command` to the worker and waits for its answer.
async fn ask<T>(
    app: &App,
    command: impl FnOnce(oneshot::Sender<Result<T, Refusal>>) -> Command,
) -> Result<T, Response> {
    let (reply, answer) = oneshot::channel();
    if app.commands.send(command(reply)).is_err() {
        return Err(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "worker_gone",
            "The card worker stopped: restart honnin console.",
            "カード処理が停止しました。honnin console を再起動してください。",
        ));
    }
    match answer.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(refusal_)) => Err(refused(refusal_)),
        Err(_) => Err(bad_request()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    tab: String,
    item: String,
}

async fn item(State(app): State<App>, body: Bytes) -> Response {
    let Some(body) = parse::<ItemBody>(body) else {
        return bad_request();
    };
    if let Some(refused) = not_acting(&app, &body.tab) {
        return refused;
    }
    match ask(&app, |reply| Command::Lookup {
        item: body.item,
        reply,
    })
    .await
    {
        Ok(view) => axum::Json(view).into_response(),
        Err(response) => response,
    }
}

/// A secret as it arrives: wiped when dropped.
struct SecretText(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|text| SecretText(Zeroizing::new(text)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    tab: String,
    item: String,
    level: Level,
    /// The card's secret (levels A, B, C); none at level M.
    #[serde(default)]
    secret: Option<SecretText>,
    /// Level M: the text of the QR code the phone shows, when the clerk scanned one.
    #[serde(default)]
    qr: Option<String>,
}

/// What the check starts with: the card's secret, typed, or the phone's engagement. The
/// format error names what is wrong, never the value.
fn parse_presented(
    level: Level,
    secret: Option<&str>,
    qr: Option<&str>,
) -> Result<Presented, Refusal> {
    let qr = qr.map(str::trim).filter(|text| !text.is_empty());
    if level == Level::M {
        if secret.is_some_and(|text| !text.is_empty()) {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "secret_not_asked",
                "A phone (level M) is checked without any PIN or password: nothing was sent; clear the field and start again.".to_owned(),
                "スマートフォン（レベルM）の確認に暗証番号・パスワードは不要です。何も送っていません。入力を消してやり直してください。".to_owned(),
            ));
        }
        if let Some(problem) = qr.and_then(crate::phone_trust::qr_problem) {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "bad_qr",
                format!(
                    "This is not the QR code of a phone's My Number Card ({problem}): scan the QR code the phone's wallet shows again, or leave the field empty to connect over NFC."
                ),
                "スマートフォンのマイナンバーカードのQRコードではありません。ウォレットに表示されたQRコードを読み取り直すか、空欄のままNFCで接続してください。".to_owned(),
            ));
        }
        return Ok(Presented::Phone {
            qr: qr.map(str::to_owned),
        });
    }
    if qr.is_some() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "qr_not_for_card",
            "A QR code is read from a phone only (level M): a card is checked with its own secret.".to_owned(),
            "QRコードはスマートフォン（レベルM）の場合だけ使います。カードはレベルに応じた番号で確認します。".to_owned(),
        ));
    }
    parse_secret(level, secret.unwrap_or_default()).map(Presented::Card)
}

/// The card level's secret, typed; the format error names what is wrong, never the value.
fn parse_secret(level: Level, text: &str) -> Result<Secret, Refusal> {
    let bad = |e: honnin_core::card::SecretFormatError| {
        let ja = match level {
            Level::A => {
                "照合番号Bは14桁の数字です（生年月日6桁・有効期限の西暦4桁・セキュリティコード4桁）。"
            }
            Level::B => "暗証番号は4桁の数字です。",
            Level::C | Level::M => "署名用パスワードは英大文字と数字の6〜16文字です。",
        };
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_secret",
            e.to_string(),
            ja.to_owned(),
        )
    };
    Ok(match level {
        Level::A => Secret::MatchingNumber(MatchingNumberB::parse(text).map_err(bad)?),
        Level::B => Secret::Pin(AuthPin::parse(text).map_err(bad)?),
        Level::C | Level::M => Secret::Password(SigningPassword::parse(text).map_err(bad)?),
    })
}

async fn start(State(app): State<App>, body: Bytes) -> Response {
    let Some(body) = parse::<StartBody>(body) else {
        return bad_request();
    };
    if let Some(refused) = not_acting(&app, &body.tab) {
        return refused;
    }
    let running = app.console.read(|v| {
        matches!(
            v.phase,
            Phase::Reading | Phase::CardRemoved | Phase::AwaitingDecision
        )
    });
    if running {
        return refusal(
            StatusCode::CONFLICT,
            "check_running",
            "A check is running: finish it first.",
            "確認の途中です。先に終えてください。",
        );
    }
    let secret = body.secret.as_ref().map(|s| s.0.as_str());
    let presented = match parse_presented(body.level, secret, body.qr.as_deref()) {
        Ok(presented) => presented,
        Err(refusal_) => return refused(refusal_),
    };
    drop(body.secret);
    match ask(&app, |reply| Command::Start {
        item: body.item,
        level: body.level,
        presented,
        reply,
    })
    .await
    {
        Ok(()) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({"started": true})),
        )
            .into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    tab: String,
    /// `matches`, `does_not_match`, or `cancel` (no decision: the check stays inconclusive).
    decision: String,
}

async fn decide(State(app): State<App>, body: Bytes) -> Response {
    let Some(body) = parse::<DecisionBody>(body) else {
        return bad_request();
    };
    if let Some(refused) = not_acting(&app, &body.tab) {
        return refused;
    }
    let decision = match body.decision.as_str() {
        "matches" => FaceDecision::Confirmed,
        "does_not_match" => FaceDecision::Rejected,
        "cancel" => FaceDecision::NotGiven,
        _ => return bad_request(),
    };
    match ask(&app, |reply| Command::Decide { decision, reply }).await {
        Ok(()) => axum::Json(serde_json::json!({"decided": true})).into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TakeOverBody {
    tab: String,
}

async fn take_over(State(app): State<App>, body: Bytes) -> Response {
    match parse::<TakeOverBody>(body) {
        Some(body) if valid_tab(&body.tab) => {
            app.console.take_over(&body.tab);
            axum::Json(serde_json::json!({"owner": body.tab})).into_response()
        }
        _ => bad_request(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_code(result: Result<Presented, Refusal>) -> (&'static str, StatusCode) {
        match result {
            Ok(_) => panic!("not refused"),
            Err(refusal) => (refusal.message.code, refusal.status),
        }
    }

    #[test]
    fn a_phone_takes_no_secret_and_only_an_engagement_as_its_qr_text() {
        assert!(matches!(
            parse_presented(Level::M, None, None),
            Ok(Presented::Phone { qr: None })
        ));
        // An empty field, as the page may send, is no secret and no QR text.
        assert!(matches!(
            parse_presented(Level::M, Some(""), Some("  ")),
            Ok(Presented::Phone { qr: None })
        ));
        assert_eq!(
            refused_code(parse_presented(Level::M, Some("2468"), None)),
            ("secret_not_asked", StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            refused_code(parse_presented(
                Level::M,
                None,
                Some("https://example.com/x")
            )),
            ("bad_qr", StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn a_card_takes_its_secret_and_no_qr_text() {
        assert!(matches!(
            parse_presented(Level::B, Some("2468"), None),
            Ok(Presented::Card(Secret::Pin(_)))
        ));
        assert_eq!(
            refused_code(parse_presented(Level::B, Some("2468"), Some("mdoc:AAAA"))),
            ("qr_not_for_card", StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            refused_code(parse_presented(Level::C, None, None)),
            ("bad_secret", StatusCode::BAD_REQUEST)
        );
        // The format error never holds the value.
        let Err(refusal) = parse_presented(Level::A, Some("12345x"), None) else {
            panic!("not refused");
        };
        assert!(
            !refusal.message.en.contains("12345x"),
            "{}",
            refusal.message.en
        );
    }
}
