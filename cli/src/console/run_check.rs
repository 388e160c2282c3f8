//! One check at the counter, on the worker thread: connect, tell a card from a phone (SELECTs
//! only: a phone is never run through a card level, a card never through the phone check, and
//! neither makes a record), run the level's check of the core (its rules: what needs no PIN
//! first, the PIN guard, the verdict), show the images and wait for the clerk at level A and for
//! the phone's portrait at level M, run it again on the same card or phone when it left
//! mid-check (as `honnin check` does), sign and store the record as the counter's, and show the
//! verdict.
//!
//! Progress goes to the page as it happens; nothing here depends on a page being open.

use std::sync::Arc;

use honnin_core::check::{CheckRequest, DoorCheckReport, FaceDecision, Level, Verdict};
use honnin_core::manifest::ItemPolicy;
use honnin_core::mdoc::{Engagement, PhoneVerifier};
use honnin_core::reader::{CardSession, Counters, ReadEvent};
use honnin_core::verify::{Clock, SystemClock, SystemRandom};
use honnin_pcsc::Pcsc;

use super::images;
use super::state::{CheckView, Console, HistoryRow, Images, Message, Phase, ResultView};
use super::worker::{Command, Presented, Worker};
use crate::commands::check::{CARD_RETURN_WAIT, MAX_RESUMES, Secret, add, card_removed};
use crate::error::CliError;
use crate::output::CheckOutput;
use crate::reader_spec::{Reader, ReaderSpec};

/// What a check runs with: the card's secret, or the phone verifier and the engagement.
enum Holder {
    Card(Secret),
    Phone {
        verifier: Box<PhoneVerifier>,
        qr: Option<String>,
    },
}

impl Worker {
    /// Runs the check of `policy`'s item at `level` on the card or phone in `reader`, to its
    /// verdict and record. A card's secret is wiped when this returns.
    pub(super) fn check(
        &mut self,
        policy: ItemPolicy,
        level: Level,
        presented: Presented,
        reader: String,
    ) {
        let holder = match (presented, &self.phone) {
            (Presented::Card(secret), _) => Holder::Card(secret),
            (Presented::Phone { qr }, Ok(verifier)) => Holder::Phone {
                verifier: Box::new(verifier.clone()),
                qr,
            },
            // admit() refuses level M on a console without phone issuer anchors; say so again
            // rather than check a phone against nothing.
            (Presented::Phone { .. }, Err(why)) => {
                let why = why.clone();
                self.console.update(|v| v.notice = Some(why));
                return;
            }
        };
        let request = policy.check_request(&self.settings.device);
        self.images_id += 1;
        let view = CheckView {
            item: policy.item_id.clone(),
            sender: policy.sender_id.clone(),
            addressee: policy.addressee.name.clone(),
            level,
            reader: reader.clone(),
            bytes_read: 0,
            images: Vec::new(),
            images_id: self.images_id,
            card_verdict: None,
        };
        self.console.update(|v| {
            v.phase = Phase::Reading;
            v.check = Some(view);
            v.result = None;
            v.images = None;
            v.notice = None;
        });

        let mut counters = Counters::default();
        let mut report = None;
        for attempt in 0..=MAX_RESUMES {
            if attempt > 0 {
                self.console.update(|v| v.phase = Phase::CardRemoved);
                if !wait_for_return(&reader) {
                    break;
                }
                self.console.update(|v| v.phase = Phase::Reading);
            }
            let mut transport = match Reader::open(
                &ReaderSpec::Pcsc(Some(reader.clone())),
                self.settings.extended,
            ) {
                Ok(transport) => transport,
                Err(error) if report.is_none() => {
                    // Nothing reached the card: no check, no record; say why.
                    self.console.update(|v| {
                        v.phase = Phase::Idle;
                        v.check = None;
                        v.notice = Some(Message::new(
                            "connect_failed",
                            format!("The card could not be reached ({error}): put it on the reader again."),
                            format!("カードと通信できませんでした（{error}）。カードを置き直してください。"),
                        ));
                    });
                    return;
                }
                Err(_) => break,
            };
            if attempt == 0 {
                match transport.identify(level) {
                    Ok(cost) => counters = cost,
                    Err(error) => {
                        // Nothing was checked (SELECTs only): no record; say what to do.
                        let notice = wrong_holder(level, policy.allows(Level::M), &error);
                        self.console.update(|v| {
                            v.phase = Phase::Idle;
                            v.check = None;
                            v.notice = Some(notice);
                        });
                        return;
                    }
                }
            }
            let (again, cost) = self.attempt(transport, &policy, &request, &holder);
            counters = add(counters, cost);
            let removed = card_removed(&again);
            report = Some(again);
            if !removed {
                break;
            }
        }
        drop(holder);
        let Some(report) = report else { return };
        self.finish(&policy, level, &request, &report, counters, reader);
    }

    /// One run of the level's check on a connected card or phone.
    fn attempt(
        &mut self,
        transport: Reader,
        policy: &ItemPolicy,
        request: &CheckRequest,
        holder: &Holder,
    ) -> (DoorCheckReport, Counters) {
        let secret = match holder {
            Holder::Card(secret) => secret.clone(),
            Holder::Phone { verifier, qr } => {
                return self.attempt_phone(verifier, transport, policy, request, qr.as_deref());
            }
        };
        let mut session = CardSession::new(transport).with_observer(progress(self.console.clone()));
        let mut random = SystemRandom;
        let report = match secret {
            Secret::MatchingNumber(number) => {
                let awaiting = self.verifier.check_level_a(
                    &mut session,
                    request,
                    &number,
                    &SystemClock,
                    &mut random,
                );
                let card_verdict = awaiting.card_verdict();
                let decision =
                    if card_verdict != Verdict::Genuine || awaiting.images().face.is_none() {
                        // A card that failed on its own is not shown for comparison: no decision
                        // could make it genuine.
                        FaceDecision::NotGiven
                    } else {
                        self.ask_clerk(images::for_browser(awaiting.images()), card_verdict)
                    };
                awaiting.confirm(decision)
            }
            Secret::Pin(pin) => {
                self.verifier
                    .check_level_b(&mut session, request, &pin, &SystemClock, &mut random)
            }
            Secret::Password(password) => self.verifier.check_level_c(
                &mut session,
                request,
                &password,
                &SystemClock,
                &mut random,
            ),
        };
        (report, session.counters())
    }

    /// Level M on a connected phone: the core's phone check, then the portrait the issuer signed
    /// shown to the clerk as a card's face image is, and the clerk's decision.
    fn attempt_phone(
        &mut self,
        verifier: &PhoneVerifier,
        transport: Reader,
        policy: &ItemPolicy,
        request: &CheckRequest,
        qr: Option<&str>,
    ) -> (DoorCheckReport, Counters) {
        let engagement = match qr {
            Some(text) => Engagement::Qr(text),
            None => Engagement::Nfc,
        };
        let awaiting = verifier.check_phone(
            transport,
            request,
            policy.attributes,
            engagement,
            &SystemClock,
            &mut SystemRandom,
        );
        let counters = awaiting.counters();
        self.console.update(|v| {
            if let Some(check) = v.check.as_mut() {
                check.bytes_read = counters.bytes_received;
            }
        });
        let card_verdict = awaiting.card_verdict();
        let shown = awaiting.portrait().and_then(images::for_browser_portrait);
        let decision = match shown {
            // A phone that failed on its own is not shown for comparison (no decision could
            // make it genuine), nor one whose portrait this page cannot show.
            Some(shown) if card_verdict == Verdict::Genuine => self.ask_clerk(shown, card_verdict),
            _ => FaceDecision::NotGiven,
        };
        (awaiting.confirm(decision), counters)
    }

    /// Shows `shown` for the comparison and waits for the clerk; the images are wiped after.
    fn ask_clerk(&mut self, shown: Images, card_verdict: Verdict) -> FaceDecision {
        let kinds = images::kinds(&shown);
        self.console.update(|v| {
            v.images = Some(shown);
            v.phase = Phase::AwaitingDecision;
            if let Some(check) = v.check.as_mut() {
                check.images = kinds;
                check.card_verdict = Some(card_verdict);
            }
        });
        let decision = self.wait_for_decision();
        self.console.update(|v| {
            v.images = None;
            v.phase = Phase::Reading;
        });
        decision
    }

    /// Waits for the clerk's matches / does-not-match (or cancel), answering other requests
    /// meanwhile and keeping the reader view fresh.
    fn wait_for_decision(&mut self) -> FaceDecision {
        loop {
            self.poll_readers();
            match self
                .commands
                .recv_timeout(std::time::Duration::from_millis(200))
            {
                Ok(Command::Decide { decision, reply }) => {
                    let _ = reply.send(Ok(()));
                    return decision;
                }
                Ok(other) => self.handle_while_busy(other),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                // The server is gone: nobody can decide.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return FaceDecision::NotGiven;
                }
            }
        }
    }

    /// Stores the record and shows the verdict.
    fn finish(
        &mut self,
        policy: &ItemPolicy,
        level: Level,
        request: &CheckRequest,
        report: &DoorCheckReport,
        counters: Counters,
        reader: String,
    ) {
        self.recorder.set_attribute_policy(policy.attributes);
        let now = SystemClock.now();
        let stored = self.recorder.record(report, request, now);
        let mut output =
            CheckOutput::new(&ReaderSpec::Pcsc(Some(reader)), request, report, counters);
        let record_error = match stored {
            Ok(line) => {
                output.record = Some(line);
                None
            }
            Err(error) => Some(error.to_string()),
        };
        let verdict = report.verdict();
        // The PIN guard refused before any PIN was sent: the same card may be checked again at
        // a level without PIN. Any other outcome used up this card's check.
        if verdict != Verdict::Refused {
            self.poll_readers();
            self.last_checked = self.current_card();
        }
        let row = output.record.as_ref().map(|record| HistoryRow {
            time: now.0,
            item: request.item_id.clone(),
            level,
            verdict,
            seq: record.seq,
        });
        let offer_level_a = verdict == Verdict::Refused
            && matches!(level, Level::B | Level::C)
            && policy.allows(Level::A);
        let checked = self.last_checked.is_some() && self.current_card() == self.last_checked;
        self.console.update(|v| {
            v.phase = Phase::Done;
            v.result = Some(ResultView {
                output,
                record_error,
                offer_level_a,
            });
            v.history.extend(row);
            v.card_checked = checked;
        });
    }
}

/// Shows reading progress and card removals on the page as the core reports them.
fn progress(console: Arc<Console>) -> impl FnMut(&ReadEvent) + 'static {
    let mut total: u64 = 0;
    let mut last = (0u16, 0usize);
    move |event: &ReadEvent| match event {
        ReadEvent::Progress { ef, read, .. } => {
            let delta = if *ef == last.0 {
                read.saturating_sub(last.1)
            } else {
                *read
            };
            last = (*ef, *read);
            total += delta as u64;
            console.update(|v| {
                if let Some(check) = v.check.as_mut() {
                    check.bytes_read = total;
                }
            });
        }
        ReadEvent::TagLost { .. } => console.update(|v| v.phase = Phase::CardRemoved),
        ReadEvent::Resumed { .. } => console.update(|v| v.phase = Phase::Reading),
        _ => {}
    }
}

/// Why the check did not start on what is on the reader: a card at level M, a phone at a card
/// level (the phone offered only where the sender accepts it), or gone before it could be told
/// apart.
fn wrong_holder(level: Level, phone_allowed: bool, error: &CliError) -> Message {
    match (error, level) {
        (CliError::Usage(_), Level::M) => Message::new(
            "card_at_phone_level",
            "A My Number Card is on the reader, not a phone: choose level A, B or C for the card, or ask for the phone.",
            "リーダーにあるのはマイナンバーカードです（スマートフォンではありません）。カードはレベルA・B・Cを選んで確認してください。",
        ),
        (CliError::Usage(_), _) if !phone_allowed => Message::new(
            "phone_at_card_level",
            "A phone is on the reader, not a My Number Card, and this item's sender does not accept a phone (level M): ask for the card itself. No PIN was sent.",
            "リーダーにあるのはスマートフォンです（マイナンバーカードではありません）。この郵便物の差出人はスマートフォン（レベルM）での確認を認めていません。カードそのものを出していただいてください。暗証番号は送っていません。",
        ),
        (CliError::Usage(_), _) => Message::new(
            "phone_at_card_level",
            "A phone is on the reader, not a My Number Card: choose the phone (level M), or ask for the card. No PIN was sent.",
            "リーダーにあるのはスマートフォンです（マイナンバーカードではありません）。スマートフォン（レベルM）を選ぶか、カードを出していただいてください。暗証番号は送っていません。",
        ),
        (other, _) => Message::new(
            "connect_failed",
            format!("The card or phone could not be read ({other}): put it on the reader again."),
            format!(
                "カードまたはスマートフォンを読み取れませんでした（{other}）。リーダーに置き直してください。"
            ),
        ),
    }
}

/// Waits for the card to be back on `reader` after it left mid-check.
fn wait_for_return(reader: &str) -> bool {
    Pcsc::establish()
        .and_then(|pcsc| pcsc.wait_for_card(Some(reader), CARD_RETURN_WAIT))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clerk_is_told_what_is_on_the_reader_and_what_the_sender_accepts() {
        let wrong = CliError::Usage("wrong credential".into());
        assert_eq!(
            wrong_holder(Level::M, true, &wrong).code,
            "card_at_phone_level"
        );
        let phone = wrong_holder(Level::B, true, &wrong);
        assert_eq!(phone.code, "phone_at_card_level");
        assert!(
            phone.en.contains("choose the phone (level M)"),
            "{}",
            phone.en
        );
        // A sender asking for B or C: the phone is not offered, the card is asked for.
        let phone = wrong_holder(Level::B, false, &wrong);
        assert!(phone.en.contains("does not accept a phone"), "{}", phone.en);
        assert!(!phone.en.contains("choose the phone"), "{}", phone.en);
        let gone = wrong_holder(Level::A, true, &CliError::Environment("tag lost".into()));
        assert_eq!(gone.code, "connect_failed");
    }
}
