import ParleyKernel

extension MessagingModule {
    /// Channels, memberships and messages. Message ids are time-ordered UUIDs, so `ORDER BY id` is send order.
    static let migrations: [Migration] = [
        Migration("0001_channels_messages", [
            """
            CREATE TABLE channels (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                description TEXT,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX channels_kind ON channels(kind, created_at)",
            """
            CREATE TABLE channel_members (
                channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL,
                role TEXT NOT NULL,
                joined_at BIGINT NOT NULL,
                PRIMARY KEY (channel_id, user_id)
            )
            """,
            "CREATE INDEX channel_members_user ON channel_members(user_id)",
            """
            CREATE TABLE messages (
                id TEXT PRIMARY KEY,
                channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
                sender_id TEXT NOT NULL,
                content TEXT NOT NULL,
                type TEXT NOT NULL,
                parent_id TEXT,
                metadata TEXT NOT NULL DEFAULT '{}',
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                edited_at BIGINT
            )
            """,
            "CREATE INDEX messages_channel ON messages(channel_id, id)",
            "CREATE INDEX messages_parent ON messages(parent_id)",
        ]),
        // The full message model: tombstones, direct receivers, reactions, per-member read positions (unread
        // counts and receipts are derived from these, never stored per message per user), unique channels
        // (one direct channel per pair), and full-text search.
        Migration("0002_message_model") { dialect in
            var statements = [
                "ALTER TABLE channels ADD COLUMN unique_key TEXT",
                "CREATE UNIQUE INDEX channels_unique_key ON channels(unique_key)",
                "ALTER TABLE channel_members ADD COLUMN last_read_id TEXT",
                "ALTER TABLE channel_members ADD COLUMN last_delivered_id TEXT",
                "ALTER TABLE messages ADD COLUMN receiver_id TEXT",
                "ALTER TABLE messages ADD COLUMN deleted_at BIGINT",
                "ALTER TABLE messages ADD COLUMN deleted_by TEXT",
                """
                CREATE TABLE message_reactions (
                    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL,
                    emoji TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (message_id, user_id, emoji)
                )
                """,
            ]
            switch dialect {
            case .sqlite:
                // An external-content FTS5 index kept in step by triggers: the text is stored once.
                statements += [
                    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
                    "INSERT INTO messages_fts(rowid, content) SELECT rowid, content FROM messages",
                    """
                    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
                        INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
                    END
                    """,
                    """
                    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
                        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
                    END
                    """,
                    """
                    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
                        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
                        INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
                    END
                    """,
                ]
            case .postgres:
                // The same words as SQLite's unicode61 tokenizer with remove_diacritics: diacritics stripped
                // (NFD, combining marks dropped), lower case, split on anything not a letter or digit. Search
                // matches every word of the query as a prefix (`'word':*`, all required), like the FTS5 query.
                // Standard SQL bodies (PostgreSQL 14+) bind their functions at creation, whatever the search_path.
                let words = "lower(regexp_replace(regexp_replace(normalize(%@, NFD), '[\\u0300-\\u036f]', '', 'g'), '[^[:alnum:]]+', ' ', 'g'))"
                statements += [
                    """
                    CREATE FUNCTION parley_search_document(content text) RETURNS tsvector
                        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                        RETURN to_tsvector('simple'::regconfig, \(words.replacingOccurrences(of: "%@", with: "content")))
                    """,
                    """
                    CREATE FUNCTION parley_search_query(query text) RETURNS tsquery
                        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
                        RETURN to_tsquery('simple'::regconfig, array_to_string(ARRAY(
                            SELECT quote_literal(word) || ':*'
                            FROM regexp_split_to_table(btrim(\(words.replacingOccurrences(of: "%@", with: "query"))), ' +') AS word
                            WHERE word <> ''), ' & '))
                    """,
                    "CREATE INDEX messages_search ON messages USING GIN (parley_search_document(content))",
                ]
            }
            return statements
        },
        // SQLite: a message's search entry is written after its send commits, in batches (SearchIndexer).
        // FTS5 writes a new index segment per transaction, which made indexing two thirds of a send's
        // storage cost when every message was its own transaction; a batch of a hundred costs about what one
        // did. New rows wait in `messages_fts_pending`; an edit or delete of a row still waiting leaves the
        // index alone (the indexer reads the row's current text, or finds it gone), so the index never holds
        // text its row does not, and search indexes what is waiting before it queries.
        Migration("0003_deferred_search_index") { dialect in
            guard dialect == .sqlite else { return [] }
            let waiting = "EXISTS (SELECT 1 FROM messages_fts_pending WHERE message_rowid = old.rowid)"
            return [
                "CREATE TABLE messages_fts_pending (message_rowid INTEGER PRIMARY KEY)",
                "DROP TRIGGER messages_fts_insert",
                "DROP TRIGGER messages_fts_delete",
                "DROP TRIGGER messages_fts_update",
                """
                CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
                    INSERT OR IGNORE INTO messages_fts_pending(message_rowid) VALUES (new.rowid);
                END
                """,
                """
                CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
                    INSERT INTO messages_fts(messages_fts, rowid, content)
                        SELECT 'delete', old.rowid, old.content WHERE NOT \(waiting);
                    DELETE FROM messages_fts_pending WHERE message_rowid = old.rowid;
                END
                """,
                """
                CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages WHEN NOT \(waiting) BEGIN
                    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
                    INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content);
                END
                """,
            ]
        },
        // Idempotent sends: a client may name its send (`clientMessageId`, `Idempotency-Key`); the name is unique
        // per sender, so a retry finds the message it already stored. Partial: messages without one cost the
        // index nothing.
        Migration("0004_client_message_ids", [
            "ALTER TABLE messages ADD COLUMN client_message_id TEXT",
            "CREATE UNIQUE INDEX messages_client_id ON messages(sender_id, client_message_id) WHERE client_message_id IS NOT NULL",
        ]),
        // The changes feed (`GET /sync`): triggers log every change to messages, reactions, read positions and
        // memberships in the transaction that makes it, so no write path can forget one. A client's cursor is a
        // position (xid, seq). SQLite has one writer: seq is commit order and xid is always 0. PostgreSQL commits
        // out of sequence order, so rows carry their transaction id and `sync_visible` shows only rows of
        // transactions older than the reader's snapshot xmin: every one of those has ended, and any row still to
        // come belongs to a newer transaction, so it sorts after every position already handed out.
        Migration("0005_sync_changes") { dialect in
            switch dialect {
            case .sqlite:
                let log = "INSERT INTO sync_changes (kind, channel_id, channel_kind, message_id, user_id)"
                return [
                    """
                    CREATE TABLE sync_changes (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        xid BIGINT NOT NULL DEFAULT 0,
                        kind TEXT NOT NULL,
                        channel_id TEXT NOT NULL,
                        channel_kind TEXT,
                        message_id TEXT,
                        user_id TEXT,
                        at BIGINT NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
                    )
                    """,
                    "CREATE INDEX sync_changes_position ON sync_changes(xid, seq)",
                    "CREATE INDEX sync_changes_at ON sync_changes(at)",
                    "CREATE VIEW sync_visible AS SELECT * FROM sync_changes",
                    "CREATE VIEW sync_floor AS SELECT 0 AS xid",
                    """
                    CREATE TRIGGER sync_message_insert AFTER INSERT ON messages BEGIN
                        \(log) VALUES ('message', new.channel_id, NULL, new.id, NULL);
                    END
                    """,
                    """
                    CREATE TRIGGER sync_message_update AFTER UPDATE OF content, metadata, edited_at, deleted_at ON messages BEGIN
                        \(log) VALUES ('message', new.channel_id, NULL, new.id, NULL);
                    END
                    """,
                    """
                    CREATE TRIGGER sync_reaction_insert AFTER INSERT ON message_reactions BEGIN
                        \(log) SELECT 'message', channel_id, NULL, id, NULL FROM messages WHERE id = new.message_id;
                    END
                    """,
                    """
                    CREATE TRIGGER sync_reaction_delete AFTER DELETE ON message_reactions BEGIN
                        \(log) SELECT 'message', channel_id, NULL, id, NULL FROM messages WHERE id = old.message_id;
                    END
                    """,
                    """
                    CREATE TRIGGER sync_member_insert AFTER INSERT ON channel_members BEGIN
                        \(log) SELECT 'joined', new.channel_id, (SELECT kind FROM channels WHERE id = new.channel_id), NULL, new.user_id;
                    END
                    """,
                    """
                    CREATE TRIGGER sync_member_delete AFTER DELETE ON channel_members BEGIN
                        \(log) SELECT 'left', old.channel_id, (SELECT kind FROM channels WHERE id = old.channel_id), NULL, old.user_id;
                    END
                    """,
                    """
                    CREATE TRIGGER sync_member_read AFTER UPDATE OF last_read_id, last_delivered_id ON channel_members BEGIN
                        \(log) VALUES ('read', new.channel_id, NULL, NULL, new.user_id);
                    END
                    """,
                    "CREATE TABLE sync_horizon (id INTEGER PRIMARY KEY, xid BIGINT NOT NULL, seq BIGINT NOT NULL)",
                ]
            case .postgres:
                let xid = "pg_current_xact_id()::text::bigint"
                let xmin = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
                let log = "INSERT INTO sync_changes (kind, channel_id, channel_kind, message_id, user_id)"
                return [
                    """
                    CREATE TABLE sync_changes (
                        seq BIGSERIAL PRIMARY KEY,
                        xid BIGINT NOT NULL DEFAULT (\(xid)),
                        kind TEXT NOT NULL,
                        channel_id TEXT NOT NULL,
                        channel_kind TEXT,
                        message_id TEXT,
                        user_id TEXT,
                        at BIGINT NOT NULL DEFAULT ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                    )
                    """,
                    "CREATE INDEX sync_changes_position ON sync_changes(xid, seq)",
                    "CREATE INDEX sync_changes_at ON sync_changes(at)",
                    "CREATE VIEW sync_visible AS SELECT * FROM sync_changes WHERE xid < \(xmin)",
                    "CREATE VIEW sync_floor AS SELECT \(xmin) AS xid",
                    """
                    CREATE FUNCTION parley_sync_message() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        \(log) VALUES ('message', NEW.channel_id, NULL, NEW.id, NULL);
                        RETURN NULL;
                    END $$
                    """,
                    "CREATE TRIGGER sync_message_insert AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION parley_sync_message()",
                    """
                    CREATE TRIGGER sync_message_update AFTER UPDATE OF content, metadata, edited_at, deleted_at ON messages
                        FOR EACH ROW EXECUTE FUNCTION parley_sync_message()
                    """,
                    """
                    CREATE FUNCTION parley_sync_reaction() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        \(log) SELECT 'message', m.channel_id, NULL, m.id, NULL FROM messages m
                            WHERE m.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.message_id ELSE NEW.message_id END;
                        RETURN NULL;
                    END $$
                    """,
                    "CREATE TRIGGER sync_reaction_change AFTER INSERT OR DELETE ON message_reactions FOR EACH ROW EXECUTE FUNCTION parley_sync_reaction()",
                    """
                    CREATE FUNCTION parley_sync_member() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF TG_OP = 'INSERT' THEN
                            \(log) SELECT 'joined', NEW.channel_id, (SELECT kind FROM channels WHERE id = NEW.channel_id), NULL, NEW.user_id;
                        ELSIF TG_OP = 'DELETE' THEN
                            \(log) SELECT 'left', OLD.channel_id, (SELECT kind FROM channels WHERE id = OLD.channel_id), NULL, OLD.user_id;
                        ELSIF NEW.last_read_id IS DISTINCT FROM OLD.last_read_id OR NEW.last_delivered_id IS DISTINCT FROM OLD.last_delivered_id THEN
                            \(log) VALUES ('read', NEW.channel_id, NULL, NULL, NEW.user_id);
                        END IF;
                        RETURN NULL;
                    END $$
                    """,
                    "CREATE TRIGGER sync_member_change AFTER INSERT OR DELETE OR UPDATE ON channel_members FOR EACH ROW EXECUTE FUNCTION parley_sync_member()",
                    "CREATE TABLE sync_horizon (id INTEGER PRIMARY KEY, xid BIGINT NOT NULL, seq BIGINT NOT NULL)",
                ]
            }
        },
    ]
}
