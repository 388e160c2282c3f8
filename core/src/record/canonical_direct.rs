//! Canonical JSON written straight from a `Serialize` value, without a `serde_json::Value`.
//!
//! A record's body is encoded on every insert and every record read back; building the JSON
//! value (a map and a string per member) cost more than the encoding itself (issue 13). Here
//! serde_json's own serializer writes the value through [`JcsFormatter`], which keeps each
//! object's members in one buffer, then writes them sorted as JCS wants when the object ends.
//! serde_json already escapes strings exactly as JCS does (`"` and `\` with a backslash,
//! `\b \t \n \f \r`, other characters below U+0020 as lowercase `\u00xx`, nothing else); the
//! escapes are nevertheless written by [`super::canonical`]'s own string writer, so the two
//! encoders share their rules by construction. Property tests hold the two equal.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::io::{self, Write};
use std::ops::Range;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

use super::canonical::{MAX_SAFE_INTEGER, utf16_order, write_string};

/// The canonical bytes of `serde_json::to_value(value)`, or `None` where this path does not
/// apply: only objects with distinct string member names, arrays, strings, booleans, null and
/// integers within [`MAX_SAFE_INTEGER`] take it. A float, a number as a member name, a member
/// named twice or an integer out of range gives `None`, and the caller goes through
/// [`super::canonical::to_canonical_bytes`], which decides.
pub fn to_canonical_vec<T: Serialize + ?Sized>(value: &T) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, JcsFormatter::default());
    value.serialize(&mut serializer).ok()?;
    Some(out)
}

/// Writes JCS: members are collected per object and written sorted when the object ends.
#[derive(Default)]
struct JcsFormatter {
    /// The objects being written, innermost last.
    open: Vec<OpenObject>,
    /// Buffers of objects already written, reused (a record has dozens of small objects).
    spare: Vec<OpenObject>,
    /// Within a member name; and whether it held an escape (then it is decoded to be sorted).
    in_name: bool,
    name_escaped: bool,
}

#[derive(Default)]
struct OpenObject {
    /// Every member as written, `"name":value`, one after another.
    bytes: Vec<u8>,
    members: Vec<Member>,
}

struct Member {
    /// `"name":value` within the object's bytes.
    span: Range<usize>,
    name: Name,
}

/// A member's name: ASCII as written (every field name of a record), or else decoded.
enum Name {
    Ascii(Range<usize>),
    Decoded(String),
}

impl OpenObject {
    fn ascii_name(&self, member: &Member) -> Option<&[u8]> {
        match &member.name {
            Name::Ascii(range) => self.bytes.get(range.clone()),
            Name::Decoded(_) => None,
        }
    }

    /// JCS order: by UTF-16 code units, which for two ASCII names is their byte order.
    fn order(&self, a: &Member, b: &Member) -> Ordering {
        match (self.ascii_name(a), self.ascii_name(b)) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => utf16_order(&self.name(a), &self.name(b)),
        }
    }

    fn name<'a>(&'a self, member: &'a Member) -> Cow<'a, str> {
        match &member.name {
            // ASCII, so valid UTF-8; lossy only to need no unwrap.
            Name::Ascii(range) => {
                String::from_utf8_lossy(self.bytes.get(range.clone()).unwrap_or_default())
            }
            Name::Decoded(text) => Cow::Borrowed(text),
        }
    }
}

/// What makes [`to_canonical_vec`] give up: the value needs the general path.
fn outside_subset() -> io::Error {
    io::Error::other("outside the direct subset of canonical JSON")
}

impl JcsFormatter {
    /// Appends to the innermost object, or to the output outside every object.
    fn emit<W: ?Sized + Write>(&mut self, writer: &mut W, bytes: &[u8]) -> io::Result<()> {
        match self.open.last_mut() {
            // serde_json writes nothing in an object outside its members.
            Some(object) if object.members.is_empty() => Err(outside_subset()),
            Some(object) => {
                object.bytes.extend_from_slice(bytes);
                Ok(())
            }
            None => writer.write_all(bytes),
        }
    }

    fn integer<W: ?Sized + Write>(&mut self, writer: &mut W, value: i128) -> io::Result<()> {
        let safe = i128::from(MAX_SAFE_INTEGER);
        if self.in_name || !(-safe..=safe).contains(&value) {
            return Err(outside_subset());
        }
        self.emit(writer, value.to_string().as_bytes())
    }

    /// Ends the member being written, if any: its span reaches to here.
    fn close_member(object: &mut OpenObject) {
        let end = object.bytes.len();
        if let Some(member) = object.members.last_mut() {
            member.span.end = end;
        }
    }
}

impl Formatter for JcsFormatter {
    fn write_null<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.emit(writer, b"null")
    }

    fn write_bool<W: ?Sized + Write>(&mut self, writer: &mut W, value: bool) -> io::Result<()> {
        self.emit(writer, if value { b"true" } else { b"false" })
    }

    fn write_i8<W: ?Sized + Write>(&mut self, w: &mut W, v: i8) -> io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_i16<W: ?Sized + Write>(&mut self, w: &mut W, v: i16) -> io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_i32<W: ?Sized + Write>(&mut self, w: &mut W, v: i32) -> io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_i64<W: ?Sized + Write>(&mut self, w: &mut W, v: i64) -> io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_i128<W: ?Sized + Write>(&mut self, w: &mut W, v: i128) -> io::Result<()> {
        self.integer(w, v)
    }

    fn write_u8<W: ?Sized + Write>(&mut self, w: &mut W, v: u8) -> io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_u16<W: ?Sized + Write>(&mut self, w: &mut W, v: u16) -> io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_u32<W: ?Sized + Write>(&mut self, w: &mut W, v: u32) -> io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_u64<W: ?Sized + Write>(&mut self, w: &mut W, v: u64) -> io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_u128<W: ?Sized + Write>(&mut self, w: &mut W, v: u128) -> io::Result<()> {
        self.integer(w, i128::try_from(v).map_err(|_| outside_subset())?)
    }

    fn write_f32<W: ?Sized + Write>(&mut self, _: &mut W, _: f32) -> io::Result<()> {
        Err(outside_subset())
    }

    fn write_f64<W: ?Sized + Write>(&mut self, _: &mut W, _: f64) -> io::Result<()> {
        Err(outside_subset())
    }

    fn write_number_str<W: ?Sized + Write>(&mut self, _: &mut W, _: &str) -> io::Result<()> {
        Err(outside_subset())
    }

    fn begin_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.emit(writer, b"\"")
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.emit(writer, b"\"")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        self.emit(writer, fragment.as_bytes())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let byte = match escape {
            CharEscape::Quote => b'"',
            CharEscape::ReverseSolidus => b'\\',
            // serde_json never escapes '/', and JCS does not either.
            CharEscape::Solidus => return Err(outside_subset()),
            CharEscape::Backspace => 0x08,
            CharEscape::FormFeed => 0x0c,
            CharEscape::LineFeed => b'\n',
            CharEscape::CarriageReturn => b'\r',
            CharEscape::Tab => b'\t',
            CharEscape::AsciiControl(byte) => byte,
        };
        if self.in_name {
            self.name_escaped = true;
        }
        let mut escaped = Vec::with_capacity(8);
        write_string(&mut escaped, char::from(byte).encode_utf8(&mut [0; 4]));
        // Without the quotes write_string puts around it.
        self.emit(
            writer,
            escaped.get(1..escaped.len() - 1).unwrap_or_default(),
        )
    }

    fn write_byte_array<W: ?Sized + Write>(&mut self, _: &mut W, _: &[u8]) -> io::Result<()> {
        Err(outside_subset())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.emit(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.emit(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            self.emit(writer, b",")
        }
    }

    fn begin_object<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        let object = self.spare.pop().unwrap_or_default();
        self.open.push(object);
        Ok(())
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        let mut object = self.open.pop().ok_or_else(outside_subset)?;
        Self::close_member(&mut object);
        let mut members = std::mem::take(&mut object.members);
        members.sort_by(|a, b| object.order(a, b));
        // A name given twice is one member of a JSON value: the general path decides.
        if members
            .windows(2)
            .any(|pair| object.order(&pair[0], &pair[1]) == Ordering::Equal)
        {
            return Err(outside_subset());
        }
        let mut sorted = Vec::with_capacity(object.bytes.len() + members.len() + 2);
        sorted.push(b'{');
        for (i, member) in members.iter().enumerate() {
            if i > 0 {
                sorted.push(b',');
            }
            sorted.extend_from_slice(object.bytes.get(member.span.clone()).unwrap_or_default());
        }
        sorted.push(b'}');
        object.bytes.clear();
        members.clear();
        object.members = members;
        self.spare.push(object);
        self.emit(writer, &sorted)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, _: &mut W, _: bool) -> io::Result<()> {
        let object = self.open.last_mut().ok_or_else(outside_subset)?;
        Self::close_member(object);
        let start = object.bytes.len();
        object.members.push(Member {
            span: start..start,
            name: Name::Ascii(start..start),
        });
        self.in_name = true;
        self.name_escaped = false;
        Ok(())
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.in_name = false;
        let object = self.open.last_mut().ok_or_else(outside_subset)?;
        let end = object.bytes.len();
        let member = object.members.last_mut().ok_or_else(outside_subset)?;
        let quoted = member.span.start..end;
        let text = object
            .bytes
            .get(quoted.clone())
            .ok_or_else(outside_subset)?;
        member.name = if !self.name_escaped && text.is_ascii() {
            // Between the quotes.
            Name::Ascii(quoted.start + 1..quoted.end.saturating_sub(1))
        } else {
            Name::Decoded(serde_json::from_slice(text).map_err(|_| outside_subset())?)
        };
        Ok(())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.emit(writer, b":")
    }

    fn write_raw_fragment<W: ?Sized + Write>(&mut self, _: &mut W, _: &str) -> io::Result<()> {
        Err(outside_subset())
    }
}

#[cfg(test)]
#[path = "canonical_direct_tests.rs"]
mod tests;
