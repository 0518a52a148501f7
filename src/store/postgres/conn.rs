//! The connection pool: each pooled connection keeps its prepared statements, so a query's SQL
//! is parsed and planned once per connection instead of once per call (rust-postgres prepares an
//! unnamed statement, one more round trip, for every query given as text).

use std::collections::HashMap;

use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::postgres::types::ToSql;
use r2d2_postgres::postgres::{Client, Error, GenericClient, NoTls, Row, Statement, Transaction};

/// Query parameters, as rust-postgres takes them.
pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Makes [`PgConn`]s: rust-postgres connections with an empty statement cache.
#[derive(Debug)]
pub(super) struct Manager(pub(super) PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = Error;

    fn connect(&self) -> Result<PgConn, Error> {
        Ok(PgConn {
            client: self.0.connect()?,
            prepared: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// One database connection and the statements prepared on it (keyed by their SQL text, which
/// is always a literal of this module's callers).
pub(super) struct PgConn {
    pub(super) client: Client,
    prepared: HashMap<&'static str, Statement>,
}

/// A transaction on a [`PgConn`], with the connection's statement cache.
pub(super) struct PgTx<'a> {
    tx: Transaction<'a>,
    prepared: &'a mut HashMap<&'static str, Statement>,
}

/// The statement for `sql`, prepared on this connection the first time.
fn statement(
    client: &mut impl GenericClient,
    prepared: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
) -> Result<Statement, Error> {
    if let Some(s) = prepared.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql)?;
    prepared.insert(sql, s.clone());
    Ok(s)
}

/// The queries both a connection and a transaction run through the statement cache.
macro_rules! cached_queries {
    ($client:ident) => {
        /// Runs a statement; the number of rows it changed.
        pub(super) fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, Error> {
            let s = statement(&mut self.$client, &mut self.prepared, sql)?;
            self.$client.execute(&s, params)
        }

        /// The rows of a query.
        #[allow(dead_code)] // not every caller kind needs it
        pub(super) fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, Error> {
            let s = statement(&mut self.$client, &mut self.prepared, sql)?;
            self.$client.query(&s, params)
        }

        /// The one row of a query, if any (more than one is an error).
        pub(super) fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>, Error> {
            let s = statement(&mut self.$client, &mut self.prepared, sql)?;
            self.$client.query_opt(&s, params)
        }

        /// The one row of a query (none or several is an error).
        pub(super) fn query_one(&mut self, sql: &'static str, params: Params<'_>) -> Result<Row, Error> {
            let s = statement(&mut self.$client, &mut self.prepared, sql)?;
            self.$client.query_one(&s, params)
        }
    };
}

impl PgConn {
    cached_queries!(client);

    /// Starts a transaction that shares this connection's statement cache.
    pub(super) fn transaction(&mut self) -> Result<PgTx<'_>, Error> {
        Ok(PgTx {
            tx: self.client.transaction()?,
            prepared: &mut self.prepared,
        })
    }
}

impl PgTx<'_> {
    cached_queries!(tx);

    /// Commits (dropping a `PgTx` without it rolls back).
    pub(super) fn commit(self) -> Result<(), Error> {
        self.tx.commit()
    }
}
