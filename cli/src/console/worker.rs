//! The worker thread: the one place that talks to PC/SC, the verifier and the record store.
//!
//! It watches the readers (card or phone in, out, readers plugged in or out) a few times a
//! second, and takes commands from the web server one at a time: look an item up in the
//! manifest, start a check, the clerk's decision. Every request that cannot lead to a check
//! (unknown item, a level below the sender's minimum, a phone check on a console without phone
//! issuer anchors, no reader, no card, the card checked already, a check running) is answered
//! with a [`Refusal`] before anything is sent to a card or phone.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use axum::http::StatusCode;
use honnin_core::check::{FaceDecision, Level, Verifier};
use honnin_core::manifest::ItemPolicy;
use honnin_core::mdoc::PhoneVerifier;
use honnin_pcsc::{CardPresence, Pcsc};
use serde::Serialize;
use tokio::sync::oneshot;

use super::Settings;
use super::state::{Console, Message, ReaderView};
use crate::commands::check::Secret;
use crate::commands::records::Recorder;
use crate::error::CliError;

/// How often the readers are looked at (pcscd itself polls a virtual reader every 400 ms).
const POLL: Duration = Duration::from_millis(200);

/// Why a request starts nothing: the HTTP status and the clerk's message.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: Message,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, en: String, ja: String) -> Self {
        Self {
            status,
            message: Message::new(code, en, ja),
        }
    }
}

/// An item as the page shows it after the number was entered.
#[derive(Debug, Serialize)]
pub struct ItemView {
    pub item: String,
    pub sender: String,
    pub addressee: String,
    pub min_level: Level,
    /// The levels the clerk may choose (never one below the sender's minimum).
    pub levels: Vec<Level>,
}

type Reply<T> = oneshot::Sender<Result<T, Refusal>>;

/// What the holder brings, as the clerk started the check.
pub enum Presented {
    /// A My Number Card and the secret of the chosen level (A, B, C); wiped when dropped (the
    /// card secret types zeroize themselves).
    Card(Secret),
    /// A phone with the card in its wallet (level M): no secret; the text of the QR code the
    /// phone shows, when the clerk scanned one (already checked to be an mdoc engagement),
    /// else the engagement is read over NFC.
    Phone { qr: Option<String> },
}

/// What the web server asks of the worker.
pub enum Command {
    Lookup {
        item: String,
        reply: Reply<ItemView>,
    },
    Start {
        item: String,
        level: Level,
        presented: Presented,
        reply: Reply<()>,
    },
    Decide {
        decision: FaceDecision,
        reply: Reply<()>,
    },
}

pub type Commands = Sender<Command>;

/// Starts the worker thread; the returned sender is how the server reaches it.
pub fn start(
    console: Arc<Console>,
    settings: Settings,
    verifiers: (Verifier, Result<PhoneVerifier, Message>),
    recorder: Recorder,
) -> Result<Commands, CliError> {
    let (commands, receiver) = mpsc::channel();
    let (verifier, phone) = verifiers;
    let worker = Worker {
        console,
        settings,
        verifier,
        phone,
        recorder,
        commands: receiver,
        pcsc: None,
        insertions: HashMap::new(),
        last_checked: None,
        images_id: 0,
    };
    std::thread::Builder::new()
        .name("honnin-console-worker".into())
        .spawn(move || worker.run())
        .map_err(|e| CliError::Environment(format!("cannot start the card worker: {e}")))?;
    Ok(commands)
}

pub(super) struct Worker {
    pub(super) console: Arc<Console>,
    pub(super) settings: Settings,
    pub(super) verifier: Verifier,
    /// The phone check (level M), or why this console cannot do it.
    pub(super) phone: Result<PhoneVerifier, Message>,
    pub(super) recorder: Recorder,
    pub(super) commands: Receiver<Command>,
    pcsc: Option<Pcsc>,
    /// Per reader: whether a card is there, and how many times a card was put on it.
    insertions: HashMap<String, (bool, u64)>,
    /// The card (reader, insertion) checked last: one check per card.
    pub(super) last_checked: Option<(String, u64)>,
    pub(super) images_id: u64,
}

impl Worker {
    fn run(mut self) {
        loop {
            self.poll_readers();
            match self.commands.recv_timeout(POLL) {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Looks at every reader and updates the page when anything changed.
    pub(super) fn poll_readers(&mut self) {
        let states = match self.pcsc.as_ref().map(Pcsc::reader_states) {
            Some(Ok(states)) => Ok(states),
            // No context yet, or pcscd went away: (re)connect, and say so if it fails.
            _ => Pcsc::establish().and_then(|pcsc| {
                let states = pcsc.reader_states();
                self.pcsc = Some(pcsc);
                states
            }),
        };
        let (readers, problem) = match states {
            Ok(states) => {
                let views: Vec<ReaderView> = states
                    .into_iter()
                    .map(|r| ReaderView {
                        card: match r.card {
                            CardPresence::Present { .. } => "present",
                            CardPresence::Absent => "absent",
                            CardPresence::Mute => "mute",
                            CardPresence::Unknown => "unknown",
                        },
                        name: r.name,
                    })
                    .collect();
                (views, None)
            }
            Err(error) => {
                self.pcsc = None;
                (
                    Vec::new(),
                    Some(Message::new(
                        "pcsc_unavailable",
                        format!(
                            "The card reader service is not available ({error}). Start pcscd (Linux) or the Smart Card service, and plug the reader in."
                        ),
                        format!(
                            "カードリーダーのサービスが使えません（{error}）。pcscd（Linux）またはスマートカードサービスを起動し、リーダーを接続してください。"
                        ),
                    )),
                )
            }
        };
        for reader in &readers {
            let present = reader.card == "present";
            let entry = self
                .insertions
                .entry(reader.name.clone())
                .or_insert((false, 0));
            if present && !entry.0 {
                entry.1 += 1;
            }
            entry.0 = present;
        }
        let problem = problem.or_else(|| {
            let wanted = self.settings.reader.as_ref()?;
            (!readers.iter().any(|r| &r.name == wanted)).then(|| reader_missing(wanted))
        });
        let checked = self.current_card().is_some() && self.current_card() == self.last_checked;
        let changed = self.console.read(|view| {
            view.readers != readers
                || view.reader_problem.as_ref().map(|m| &m.en) != problem.as_ref().map(|m| &m.en)
                || view.card_checked != checked
        });
        if changed {
            self.console.update(|view| {
                view.readers = readers;
                view.reader_problem = problem;
                view.card_checked = checked;
            });
        }
    }

    /// The card a check would use now: (reader, insertion), when exactly one is there.
    pub(super) fn current_card(&self) -> Option<(String, u64)> {
        self.chosen_reader()
            .ok()
            .and_then(|name| self.insertions.get(&name).map(|(_, n)| (name, *n)))
    }

    /// The reader to check on: the one named with --reader, else the only one with a card.
    pub(super) fn chosen_reader(&self) -> Result<String, Refusal> {
        let with_card: Vec<&String> = self
            .insertions
            .iter()
            .filter(|(_, (present, _))| *present)
            .map(|(name, _)| name)
            .collect();
        if let Some(problem) = self.console.read(|v| v.reader_problem.clone()) {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: problem,
            });
        }
        match &self.settings.reader {
            Some(wanted) if with_card.contains(&wanted) => Ok(wanted.clone()),
            Some(wanted) => Err(no_card(Some(wanted))),
            None => match with_card.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(no_card(None)),
                several => Err(Refusal::new(
                    StatusCode::CONFLICT,
                    "two_cards",
                    format!(
                        "Cards are on {} readers: leave only the card to check, or start the console with --reader <name>.",
                        several.len()
                    ),
                    format!(
                        "{}台のリーダーにカードがあります。確認するカードだけを置いてください（または --reader で指定）。",
                        several.len()
                    ),
                )),
            },
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Lookup { item, reply } => {
                let _ = reply.send(self.lookup(&item).map(|policy| item_view(&policy)));
            }
            Command::Start {
                item,
                level,
                presented,
                reply,
            } => match self.admit(&item, level) {
                Ok((policy, reader)) => {
                    let _ = reply.send(Ok(()));
                    self.check(policy, level, presented, reader);
                }
                Err(refusal) => {
                    let _ = reply.send(Err(refusal));
                }
            },
            Command::Decide { reply, .. } => {
                let _ = reply.send(Err(no_comparison()));
            }
        }
    }

    /// Answers commands that arrive while a check runs (the check itself takes decisions).
    pub(super) fn handle_while_busy(&mut self, command: Command) {
        match command {
            Command::Lookup { item, reply } => {
                let _ = reply.send(self.lookup(&item).map(|policy| item_view(&policy)));
            }
            Command::Start { reply, .. } => {
                let _ = reply.send(Err(Refusal::new(
                    StatusCode::CONFLICT,
                    "check_running",
                    "A check is running: finish it first.".into(),
                    "確認の途中です。先に終えてください。".into(),
                )));
            }
            Command::Decide { reply, .. } => {
                let _ = reply.send(Err(no_comparison()));
            }
        }
    }

    /// The item's policy from the synced manifest.
    fn lookup(&self, item: &str) -> Result<ItemPolicy, Refusal> {
        let item = item.trim();
        if item.is_empty() || item.len() > 256 || item.chars().any(char::is_control) {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "bad_item",
                "Enter the item number (scan the barcode or type it, then Enter).".into(),
                "お問い合わせ番号を入力してください（バーコードを読み取るか入力して Enter）。"
                    .into(),
            ));
        }
        match self.recorder.item_policy(&self.settings.device, item) {
            Ok(Some(policy)) => Ok(policy),
            Ok(None) => Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "unknown_item",
                format!(
                    "Item {item} is not in this counter's item list: check the number, or sync (honnin sync) to get the latest list."
                ),
                format!(
                    "お問い合わせ番号 {item} はこの窓口の一覧にありません。番号を確認するか、同期（honnin sync）で最新の一覧を取得してください。"
                ),
            )),
            Err(error) => Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "manifest_unusable",
                error.to_string(),
                format!(
                    "お問い合わせ番号の一覧を使えません。オンラインで honnin sync を実行してください。（{error}）"
                ),
            )),
        }
    }

    /// Everything a check needs, or why it must not start.
    fn admit(&mut self, item: &str, level: Level) -> Result<(ItemPolicy, String), Refusal> {
        let policy = self.lookup(item)?;
        if !policy.allows(level) {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                "level_below_minimum",
                format!(
                    "{} asks for at least level {} for this item: choose level {} or higher.",
                    policy.sender_id,
                    policy.min_level.code(),
                    policy.min_level.code()
                ),
                format!(
                    "差出人 {} はこの郵便物にレベル{}以上を求めています。レベル{}以上を選んでください。",
                    policy.sender_id,
                    policy.min_level.code(),
                    policy.min_level.code()
                ),
            ));
        }
        if level == Level::M
            && let Err(why) = &self.phone
        {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: why.clone(),
            });
        }
        self.poll_readers();
        let reader = self.chosen_reader()?;
        if self.current_card().is_some() && self.current_card() == self.last_checked {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                "card_checked",
                "This card was checked already: take it away and put the next card on the reader."
                    .into(),
                "このカードは確認済みです。カードを取り外し、次のカードを置いてください。".into(),
            ));
        }
        Ok((policy, reader))
    }
}

fn item_view(policy: &ItemPolicy) -> ItemView {
    ItemView {
        item: policy.item_id.clone(),
        sender: policy.sender_id.clone(),
        addressee: policy.addressee.name.clone(),
        min_level: policy.min_level,
        levels: offered_levels(policy),
    }
}

/// The card levels the sender accepts, then the phone (level M) when it does: a phone satisfies
/// a sender asking for level A, not one asking for B or C.
fn offered_levels(policy: &ItemPolicy) -> Vec<Level> {
    let mut levels = policy.allowed_levels();
    if policy.allows(Level::M) {
        levels.push(Level::M);
    }
    levels
}

fn reader_missing(name: &str) -> Message {
    Message::new(
        "reader_missing",
        format!("The reader \"{name}\" is not connected: plug it in (or check its name)."),
        format!(
            "リーダー「{name}」が接続されていません。接続してください（名前も確認してください）。"
        ),
    )
}

fn no_card(reader: Option<&String>) -> Refusal {
    let (en, ja) = match reader {
        Some(name) => (
            format!(
                "No card or phone on the reader \"{name}\": put the card (or the phone) on it."
            ),
            format!(
                "リーダー「{name}」にカードがありません。カード（またはスマートフォン）を置いてください。"
            ),
        ),
        None => (
            "No card or phone on the reader: put the card (or the phone) on it.".to_owned(),
            "リーダーにカードがありません。カード（またはスマートフォン）を置いてください。"
                .to_owned(),
        ),
    };
    Refusal::new(StatusCode::CONFLICT, "no_card", en, ja)
}

fn no_comparison() -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        "no_comparison",
        "No photo is waiting for a decision.".into(),
        "判定待ちの顔写真はありません。".into(),
    )
}

#[cfg(test)]
mod tests {
    use honnin_core::record::AttributePolicy;
    use honnin_core::verify::addressee::Addressee;

    use super::*;

    fn item(min_level: Level) -> ItemPolicy {
        ItemPolicy {
            item_id: "JP-0002".into(),
            sender_id: "demo-bank".into(),
            addressee: Addressee {
                name: "試験 花子".into(),
                address: None,
                birth_date: None,
            },
            min_level,
            attributes: AttributePolicy::default(),
        }
    }

    #[test]
    fn a_phone_is_offered_only_where_the_sender_accepts_level_a() {
        assert_eq!(
            offered_levels(&item(Level::A)),
            vec![Level::A, Level::B, Level::C, Level::M]
        );
        assert_eq!(
            offered_levels(&item(Level::M)),
            vec![Level::B, Level::C, Level::M]
        );
        assert_eq!(offered_levels(&item(Level::B)), vec![Level::B, Level::C]);
        assert_eq!(offered_levels(&item(Level::C)), vec![Level::C]);
    }
}
