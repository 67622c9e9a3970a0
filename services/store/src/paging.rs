//! Keyset paging, for every backend: page tokens, the scopes they are bound to, and the assembly
//! of a [`Page`] from the rows a backend fetched.
//!
//! The guarantee kept here: a page token is accepted only by the database that issued it (its
//! check is keyed with that database's random token key) and only for the listing and filter it
//! was issued for (its scope); anything else is refused with [`StoreError::BadPageToken`]. The
//! token format — the hex of the last key of the previous page, a dot, and the first 12 bytes
//! (in hex) of SHA-256 over the length-prefixed token key, scope and last key — and the scopes are
//! stable: tokens handed out by an earlier version of the store must keep working, so neither
//! may change (the test vectors below come from tokens issued before this module existed).
//!
//! A listing is ordered by one key column, ascending or descending ([`Order`]); a backend fetches
//! the rows strictly beyond the token's key ([`Cursor::position`]) in that order, at most
//! [`Cursor::limit`] of them (one more than the page, to know whether another page follows),
//! and hands them to [`PageTokens::page`]. [`MemoryPages`] cuts the same pages, with the same
//! tokens, from a listing a server holds in memory.

use prost::Message;
use sha2::{Digest, Sha256};

use accord_proto::v1::{
    Member, MemberStatus, Mission, MissionStatus, Partner, SummitParticipation,
};

use crate::records::{Record, decode};
use crate::{Page, PageRequest, StoreError, StoreResult};

/// The direction of a listing along its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Smallest key first (members, partners and missions by code or id; ballots in the order
    /// cast).
    Ascending,
    /// Largest key first (proposals, newest first).
    Descending,
}

impl Order {
    /// The comparison that selects the keys beyond a position: `>` or `<`.
    pub(crate) fn beyond(self) -> &'static str {
        match self {
            Order::Ascending => ">",
            Order::Descending => "<",
        }
    }

    /// The SQL direction of an `ORDER BY`: `ASC` or `DESC`.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Order::Ascending => "ASC",
            Order::Descending => "DESC",
        }
    }
}

/// A key a listing is ordered by, as it is written into a page token.
pub(crate) trait PageKey: Sized + Clone {
    /// The key as text, for the token.
    fn to_text(&self) -> String;
    /// The key from the text of a token; `None` if it is not one.
    fn from_text(text: String) -> Option<Self>;
}

impl PageKey for String {
    fn to_text(&self) -> String {
        self.clone()
    }

    fn from_text(text: String) -> Option<Self> {
        Some(text)
    }
}

impl PageKey for i64 {
    fn to_text(&self) -> String {
        self.to_string()
    }

    fn from_text(text: String) -> Option<Self> {
        text.parse().ok()
    }
}

/// The scopes page tokens are bound to: one per listing and filter.
pub(crate) mod scope {
    /// Members, partners or missions (`table`), filtered on `column` (or not).
    pub(crate) fn records(table: &str, column: &str, filter: Option<i32>) -> String {
        format!("{table}|{column}={filter:?}")
    }

    /// Proposals, filtered on state, kind and target.
    pub(crate) fn proposals(state: Option<i32>, kind: Option<i32>, target: Option<&str>) -> String {
        format!("proposals|{state:?}|{kind:?}|{target:?}")
    }

    /// The ballots of proposal `proposal_id`.
    pub(crate) fn ballots(proposal_id: i64) -> String {
        format!("ballots|{proposal_id}")
    }
}

/// Issues and reads the page tokens of one database.
#[derive(Clone)]
pub(crate) struct PageTokens {
    /// The database's random token key.
    key: Vec<u8>,
}

/// Where one page of a listing starts, and how many records it holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cursor<K> {
    /// The scope the page's token is bound to.
    pub(crate) scope: String,
    /// The page holds the keys strictly beyond this one, in the listing's order.
    pub(crate) position: K,
    /// The most records on the page (at least 1).
    pub(crate) size: usize,
}

impl<K> Cursor<K> {
    /// How many rows to fetch: one more than the page, to know whether another page follows.
    pub(crate) fn limit(&self) -> i64 {
        limit_plus_one(self.size)
    }
}

impl PageTokens {
    /// The tokens of the database whose token key is `key`.
    pub(crate) fn new(key: impl Into<Vec<u8>>) -> Self {
        PageTokens { key: key.into() }
    }

    /// The check part of a page token for `key` in the listing `scope`.
    fn check(&self, scope: &str, key: &str) -> String {
        let mut hash = Sha256::new();
        for part in [self.key.as_slice(), scope.as_bytes(), key.as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hex::encode(&hash.finalize()[..12])
    }

    /// A page token resuming the listing `scope` after `key`.
    pub(crate) fn make(&self, scope: &str, key: &str) -> String {
        format!("{}.{}", hex::encode(key), self.check(scope, key))
    }

    /// The key in a token issued by [`Self::make`] for `scope`; `None` for the empty token.
    pub(crate) fn read(&self, scope: &str, token: &str) -> StoreResult<Option<String>> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || StoreError::BadPageToken(token.to_owned());
        let (key_hex, check) = token.split_once('.').ok_or_else(bad)?;
        let key = hex::decode(key_hex)
            .ok()
            .and_then(|k| String::from_utf8(k).ok())
            .ok_or_else(bad)?;
        if self.check(scope, &key) != check {
            return Err(bad());
        }
        Ok(Some(key))
    }

    /// Where the page `request` of the listing `scope` starts: after the token's key, or at
    /// `start` (a key before every stored key in the listing's order) for the first page.
    pub(crate) fn cursor<K: PageKey>(
        &self,
        scope: String,
        request: &PageRequest,
        start: K,
    ) -> StoreResult<Cursor<K>> {
        let position = match self.read(&scope, &request.token)? {
            None => start,
            Some(key) => {
                K::from_text(key).ok_or_else(|| StoreError::BadPageToken(request.token.clone()))?
            }
        };
        Ok(Cursor {
            scope,
            position,
            size: request.size.max(1),
        })
    }

    /// The page made of `rows` (key and encoded record, at most [`Cursor::limit`] of them, in the
    /// listing's order) fetched for `cursor`, of `total` matching records; `kind` names the
    /// records in errors.
    pub(crate) fn page<K: PageKey, M: Message + Default>(
        &self,
        cursor: &Cursor<K>,
        kind: &'static str,
        rows: Vec<(K, Vec<u8>)>,
        total: i64,
    ) -> StoreResult<Page<M>> {
        let (items, next_key) = split_page(rows, cursor.size);
        Ok(Page {
            items: items
                .iter()
                .map(|(_, m)| decode(kind, m))
                .collect::<StoreResult<_>>()?,
            next_token: next_key
                .map(|k| self.make(&cursor.scope, &k.to_text()))
                .unwrap_or_default(),
            total: total as usize,
        })
    }
}

/// Pages of members, partners or missions cut from the whole listing held in memory (a server's
/// cache, see [`Store::memory_pages`](crate::Store::memory_pages)), exactly as the store itself
/// pages them: the same records, totals and page tokens, so a token from either is good for the
/// other. The records given must be every record of their kind, ordered by key bytewise (as
/// [`Store::all_members`](crate::Store::all_members) and its siblings return them, and as the
/// key columns sort: SQLite's BINARY, PostgreSQL's `COLLATE "C"`).
#[derive(Clone)]
pub struct MemoryPages {
    tokens: PageTokens,
}

impl std::fmt::Debug for MemoryPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryPages") // never the token key
    }
}

impl MemoryPages {
    pub(crate) fn new(tokens: PageTokens) -> Self {
        MemoryPages { tokens }
    }

    /// The page of [`Store::list_members`](crate::Store::list_members) cut from `all`.
    pub fn members(
        &self,
        all: &[Member],
        status: Option<MemberStatus>,
        request: &PageRequest,
    ) -> StoreResult<Page<Member>> {
        self.records(all, status, request)
    }

    /// The page of [`Store::list_partners`](crate::Store::list_partners) cut from `all`.
    pub fn partners(
        &self,
        all: &[Partner],
        participation: Option<SummitParticipation>,
        request: &PageRequest,
    ) -> StoreResult<Page<Partner>> {
        self.records(all, participation, request)
    }

    /// The page of [`Store::list_missions`](crate::Store::list_missions) cut from `all`.
    pub fn missions(
        &self,
        all: &[Mission],
        status: Option<MissionStatus>,
        request: &PageRequest,
    ) -> StoreResult<Page<Mission>> {
        self.records(all, status, request)
    }

    /// What the backends' `list_records` does, over `all` instead of the table: the records
    /// matching `filter` with keys beyond the token's, in key order, one more than the page to
    /// know whether another follows; the total counts every matching record.
    fn records<R: Record + Clone>(
        &self,
        all: &[R],
        filter: Option<R::Filter>,
        request: &PageRequest,
    ) -> StoreResult<Page<R>> {
        let filter: Option<i32> = filter.map(Into::into);
        let scope = scope::records(R::TABLE.name, R::FILTER, filter);
        let cursor = self.tokens.cursor(scope, request, String::new())?;
        let column = R::COLUMNS
            .iter()
            .position(|c| *c == R::FILTER)
            .expect("a record's filter is one of its columns");
        let matches = |r: &&R| filter.is_none_or(|f| r.values()[column] == f);
        let total = all.iter().filter(matches).count();
        let start = all.partition_point(|r| r.key() <= cursor.position.as_str());
        let rows: Vec<(String, &R)> = all[start..]
            .iter()
            .filter(matches)
            .take(cursor.size.saturating_add(1))
            .map(|r| (r.key().to_owned(), r))
            .collect();
        let (items, next_key) = split_page(rows, cursor.size);
        Ok(Page {
            items: items.into_iter().map(|(_, r)| r.clone()).collect(),
            next_token: next_key
                .map(|k| self.tokens.make(&cursor.scope, &k))
                .unwrap_or_default(),
            total,
        })
    }
}

/// `size + 1` as an SQL LIMIT: one row more than the page, to know whether another page follows.
pub(crate) fn limit_plus_one(size: usize) -> i64 {
    i64::try_from(size)
        .unwrap_or(i64::MAX - 1)
        .saturating_add(1)
}

/// Splits `size + 1` fetched rows into the page and the key of its last row when more follow.
pub(crate) fn split_page<K: Clone, V>(
    mut rows: Vec<(K, V)>,
    size: usize,
) -> (Vec<(K, V)>, Option<K>) {
    if rows.len() > size {
        rows.truncate(size);
        let last = rows.last().map(|(k, _)| k.clone());
        (rows, last)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use accord_proto::v1::Member;

    use super::*;

    /// The token key of a database in which the tokens below were issued, before this module
    /// existed (by the store as it was at commit 6830786).
    const ISSUED_KEY: &str = "8306c488479447e22b9d817f2713ac78ea37d00cff455e186e73d2ae3630ab4f";

    fn tokens() -> PageTokens {
        PageTokens::new(ISSUED_KEY)
    }

    fn request(size: usize, token: &str) -> PageRequest {
        PageRequest {
            size,
            token: token.to_owned(),
        }
    }

    #[test]
    fn scopes_are_stable() {
        assert_eq!(
            scope::records("members", "status", None),
            "members|status=None"
        );
        assert_eq!(
            scope::records("partners", "participation", Some(2)),
            "partners|participation=Some(2)"
        );
        assert_eq!(
            scope::proposals(Some(1), None, Some("partners/UKR")),
            r#"proposals|Some(1)|None|Some("partners/UKR")"#
        );
        assert_eq!(scope::ballots(3), "ballots|3");
    }

    #[test]
    fn tokens_issued_before_are_made_and_read_the_same() {
        let tokens = tokens();
        // Members, no filter, after DNK; ballots of proposal 3, after sequence 3.
        let members = "444e4b.8c88405a63e207121d4becaf";
        let ballots = "33.b873cc285f1debd0dc8c6406";
        assert_eq!(tokens.make("members|status=None", "DNK"), members);
        assert_eq!(tokens.make(&scope::ballots(3), "3"), ballots);
        assert_eq!(
            tokens.read("members|status=None", members).unwrap(),
            Some("DNK".to_owned())
        );
        let cursor = tokens
            .cursor(scope::ballots(3), &request(3, ballots), 0_i64)
            .unwrap();
        assert_eq!((cursor.position, cursor.size, cursor.limit()), (3, 3, 4));
    }

    #[test]
    fn token_round_trip() {
        let tokens = tokens();
        for key in ["", "USA", "a.b", "ünïcode", "9223372036854775807"] {
            let token = tokens.make("scope", key);
            assert_eq!(tokens.read("scope", &token).unwrap(), Some(key.to_owned()));
        }
        let scope = scope::proposals(None, None, None);
        let token = tokens.make(&scope, &41_i64.to_text());
        let cursor = tokens
            .cursor(scope, &request(10, &token), i64::MAX)
            .unwrap();
        assert_eq!(cursor.position, 41);
        // No token: the listing's start, and at least one record a page.
        let cursor = tokens
            .cursor(scope::ballots(1), &request(0, ""), 0_i64)
            .unwrap();
        assert_eq!((cursor.position, cursor.size), (0, 1));
        assert_eq!(tokens.read("scope", "").unwrap(), None);
    }

    #[test]
    fn foreign_tokens_are_refused() {
        let tokens = tokens();
        let token = tokens.make("members|status=None", "DNK");
        let refused = |result: StoreResult<Option<String>>, why: &str| match result {
            Err(StoreError::BadPageToken(t)) => assert!(!t.is_empty(), "{why}"),
            other => panic!("{why}: {other:?}"),
        };
        // Another database (another token key).
        refused(
            PageTokens::new("another key").read("members|status=None", &token),
            "another database",
        );
        // Another listing or filter.
        refused(tokens.read("members|status=Some(1)", &token), "filter");
        refused(tokens.read("missions|status=None", &token), "listing");
        // Forged or damaged.
        let (_, check) = token.split_once('.').unwrap();
        refused(
            tokens.read(
                "members|status=None",
                &format!("{}.{check}", hex::encode("USA")),
            ),
            "another key, same check",
        );
        for bad in [
            format!("{token}x"),
            token.replace('.', ""),
            format!("zz.{check}"),
            format!("ff.{check}"),
        ] {
            refused(tokens.read("members|status=None", &bad), &bad);
        }
        // A valid token whose key is not an integer, in an integer-keyed listing.
        let text_key = tokens.make(&scope::ballots(1), "DNK");
        match tokens.cursor(scope::ballots(1), &request(5, &text_key), 0_i64) {
            Err(StoreError::BadPageToken(t)) => assert_eq!(t, text_key),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn split_page_boundaries() {
        let rows = |n: i64| (1..=n).map(|k| (k, ())).collect::<Vec<_>>();
        // Fewer rows than the page, exactly the page, and one more (the next page exists).
        assert_eq!(split_page(rows(0), 3), (vec![], None));
        assert_eq!(split_page(rows(2), 3), (rows(2), None));
        assert_eq!(split_page(rows(3), 3), (rows(3), None));
        assert_eq!(split_page(rows(4), 3), (rows(3), Some(3)));
        assert_eq!(limit_plus_one(3), 4);
        assert_eq!(limit_plus_one(usize::MAX), i64::MAX);
    }

    #[test]
    fn pages_are_assembled_with_the_next_token() {
        let tokens = tokens();
        let member = |code: &str| Member {
            code: code.to_owned(),
            ..Default::default()
        };
        let row = |code: &str| (code.to_owned(), member(code).encode_to_vec());
        let cursor = tokens
            .cursor("members|status=None".into(), &request(2, ""), String::new())
            .unwrap();
        let page: Page<Member> = tokens
            .page(
                &cursor,
                "member",
                vec![row("ALB"), row("DNK"), row("USA")],
                7,
            )
            .unwrap();
        assert_eq!(page.items, vec![member("ALB"), member("DNK")]);
        assert_eq!(page.next_token, "444e4b.8c88405a63e207121d4becaf");
        assert_eq!(page.total, 7);
        let last: Page<Member> = tokens.page(&cursor, "member", vec![row("USA")], 7).unwrap();
        assert_eq!((last.items.len(), last.next_token.as_str()), (1, ""));
        // A record that does not decode is an error naming its kind.
        let corrupt: StoreResult<Page<Member>> =
            tokens.page(&cursor, "member", vec![("X".into(), vec![0xff])], 1);
        assert!(
            matches!(&corrupt, Err(StoreError::Database(m)) if m.starts_with("corrupt member record")),
            "{corrupt:?}"
        );
    }
}
