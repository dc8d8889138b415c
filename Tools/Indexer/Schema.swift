/// The indexer's tables (docs/INDEXER.md describes each column; the regulators' reports in
/// Tools/Indexer/Reports query them). Hashes, keys and roots are lower-case hex, addresses are
/// Meridian addresses as the API prints them, times are `timestamptz`. Nothing here names a person:
/// patients and staff appear by their pseudonymous addresses, as on chain.
enum Schema {
    static let version = 1

    static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS meridian_indexer (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            schema_version integer NOT NULL,
            chain_id text NOT NULL,
            reader text NOT NULL,
            height bigint NOT NULL,
            block_hash text NOT NULL,
            audit_log_size bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS blocks (
            height bigint PRIMARY KEY,
            hash text NOT NULL UNIQUE,
            parent_hash text NOT NULL,
            time timestamptz NOT NULL,
            proposer text NOT NULL,
            state_root text NOT NULL,
            audit_log_size bigint NOT NULL,
            audit_log_root text NOT NULL,
            commit_round integer,
            commit_signatures integer,
            transaction_count integer,
            audit_entries_withheld integer NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS transactions (
            height bigint NOT NULL REFERENCES blocks (height),
            index integer NOT NULL,
            hash text NOT NULL,
            signer text NOT NULL,
            nonce bigint NOT NULL,
            call text NOT NULL,
            outcome text NOT NULL,
            error_code text,
            error_message text,
            created_id text,
            PRIMARY KEY (height, index)
        )
        """,
        "CREATE INDEX IF NOT EXISTS transactions_hash ON transactions (hash)",
        """
        CREATE TABLE IF NOT EXISTS decisions (
            height bigint NOT NULL,
            index integer NOT NULL,
            allowed boolean NOT NULL,
            reason text NOT NULL,
            consent text,
            transfer_basis text,
            legal_basis text,
            requester_organization text,
            source_country text,
            destination_country text,
            contract text,
            co_signer text,
            PRIMARY KEY (height, index),
            FOREIGN KEY (height, index) REFERENCES transactions (height, index)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS audit_entries (
            log_index bigint PRIMARY KEY,
            height bigint NOT NULL REFERENCES blocks (height),
            time timestamptz NOT NULL,
            patient text NOT NULL,
            sequence bigint NOT NULL,
            kind text NOT NULL,
            action text NOT NULL,
            actor text NOT NULL,
            organization text NOT NULL,
            record text,
            category text NOT NULL,
            purpose text NOT NULL,
            break_glass boolean NOT NULL,
            allowed boolean NOT NULL,
            reason text NOT NULL,
            consent text,
            transfer_basis text,
            legal_basis text,
            requester_organization text,
            source_country text,
            destination_country text,
            contract text,
            co_signer text,
            transaction text NOT NULL,
            hash text NOT NULL UNIQUE,
            previous_hash text NOT NULL,
            UNIQUE (patient, sequence)
        )
        """,
        "CREATE INDEX IF NOT EXISTS audit_entries_organization_time ON audit_entries (organization, time)",
        "CREATE INDEX IF NOT EXISTS audit_entries_time ON audit_entries (time)",
        "CREATE INDEX IF NOT EXISTS audit_entries_route ON audit_entries (source_country, destination_country) WHERE allowed AND source_country IS DISTINCT FROM destination_country",
        "CREATE INDEX IF NOT EXISTS audit_entries_break_glass ON audit_entries (organization) WHERE break_glass",
        "CREATE INDEX IF NOT EXISTS audit_entries_denied ON audit_entries (time) WHERE NOT allowed",
        """
        CREATE TABLE IF NOT EXISTS anchors (
            height bigint NOT NULL REFERENCES blocks (height),
            transaction text NOT NULL,
            worker text NOT NULL,
            kind text NOT NULL,
            root text NOT NULL,
            count integer NOT NULL,
            PRIMARY KEY (transaction, kind, root)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS evidence (
            height bigint NOT NULL REFERENCES blocks (height),
            transaction text NOT NULL,
            validator text NOT NULL,
            offence_height bigint NOT NULL,
            PRIMARY KEY (transaction, validator, offence_height)
        )
        """,
    ]
}
