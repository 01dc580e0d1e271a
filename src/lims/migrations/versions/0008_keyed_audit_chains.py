"""keyed audit chains per district

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Events get a chain, a position in it and a MAC; `audit_chain` holds each chain's head. The unkeyed chain
written so far is verified once and sealed: its events become the chain `legacy` (numbered in their
order), password hashes copied into them are replaced by the keyed fingerprints snapshots now hold, and
the first event of the keyed chain `shared` seals them, naming their count, last hash and a digest of all
of them. A chain that is already broken is not sealed silently: the upgrade stops, naming the break,
unless LIMS_AUDIT_SEAL_BROKEN_CHAIN=1 asks to seal it with the break recorded in the seal. Notification
marks, audited from now on, get a first event each. The audit key (LIMS_AUDIT_KEY, or the key file, which
is created if missing) is needed only when there are events to seal or marks to record.
"""

import json

from alembic import op
import sqlalchemy as sa
import sqlmodel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Columns marked secret at this revision: their values leave the sealed events.
SECRET_COLUMNS = {"app_user": ("password_hash",)}
BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain', AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('mac', AutoString(length=64), nullable=True))
    op.create_table(
        'audit_chain',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', AutoString(length=40), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('head', AutoString(length=64), nullable=False),
        sa.Column('mac', AutoString(length=64), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.execute(
        "UPDATE audit_event SET chain = 'legacy', seq = numbered.n "
        "FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_event) AS numbered "
        "WHERE audit_event.id = numbered.id"
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('chain', existing_type=AutoString(length=40), nullable=False)
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint('uq_audit_event_chain_seq', ['chain', 'seq'])
    _seal_and_start(op.get_bind())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM audit_event")).scalar():
        raise RuntimeError("keyed audit chains cannot be turned back into the unkeyed chain: restore a backup")
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_event_chain_seq', type_='unique')
        batch_op.drop_column('mac')
        batch_op.drop_column('seq')
        batch_op.drop_column('chain')
    op.drop_table('audit_chain')


# --- the seal, with the tables as they are at this revision ----------------------------------------------

_meta = sa.MetaData()
_events = sa.Table(
    'audit_event', _meta,
    sa.Column('id', sa.Integer(), primary_key=True),
    sa.Column('chain', AutoString(length=40)),
    sa.Column('seq', sa.BigInteger()),
    sa.Column('at', UTCDateTime()),
    sa.Column('actor', AutoString()),
    sa.Column('role', AutoString()),
    sa.Column('entity', AutoString()),
    sa.Column('entity_id', sa.Integer()),
    sa.Column('action', AutoString()),
    sa.Column('before', sa.JSON()),
    sa.Column('after', sa.JSON()),
    sa.Column('prev_hash', AutoString(length=64)),
    sa.Column('hash', AutoString(length=64)),
    sa.Column('mac', AutoString(length=64)),
)
_chains = sa.Table(
    'audit_chain', _meta,
    sa.Column('id', sa.Integer(), primary_key=True),
    sa.Column('name', AutoString(length=40)),
    sa.Column('count', sa.BigInteger()),
    sa.Column('head', AutoString(length=64)),
    sa.Column('mac', AutoString(length=64)),
    sa.Column('version', sa.BigInteger()),
)
_marks = sa.Table(
    'notification_mark', _meta,
    sa.Column('id', sa.Integer(), primary_key=True),
    sa.Column('user_id', sa.Integer()),
    sa.Column('seen_until', UTCDateTime()),
)
_users = sa.Table('app_user', _meta, sa.Column('id', sa.Integer(), primary_key=True), sa.Column('district_id', sa.Integer()))


class _Appender:
    """Writes keyed events to chains that are empty at this revision, then their head records."""

    def __init__(self, bind, key):
        from lims.services.core import audit

        self.bind, self.key, self.heads = bind, key, {}
        self.at = audit.utcnow()

    def add(self, chain, entity, entity_id, action, after):
        from lims.services.core import audit
        from lims.services.core import audit_keys

        count, head = self.heads.get(chain, (0, audit.GENESIS))
        values = {
            'chain': chain, 'seq': count + 1, 'at': self.at, 'actor': 'system', 'role': 'system',
            'entity': entity, 'entity_id': entity_id, 'action': action, 'before': None, 'after': after,
            'prev_hash': head,
        }
        digest = audit.event_hash(values)
        self.bind.execute(_events.insert().values(**values, hash=digest, mac=audit_keys.event_mac(self.key, digest)))
        self.heads[chain] = (count + 1, digest)

    def head_record(self, chain, count, head):
        from lims.services.core import audit
        from lims.services.core import audit_keys

        mac = audit_keys.head_mac(self.key, chain, count, head)
        values = {'name': chain, 'count': count, 'head': head, 'mac': mac, 'version': audit.head_version(head)}
        return self.bind.execute(_chains.insert().values(**values)).inserted_primary_key[0]

    def finish(self):
        for chain, (count, head) in sorted(self.heads.items()):
            self.head_record(chain, count, head)


def _redact(key, values):
    """Replace secret values in an event's snapshots by their keyed fingerprints; whether anything changed."""
    from lims.services.core import audit_keys

    columns = SECRET_COLUMNS.get(values['entity'], ())
    changed = False
    for side in ('before', 'after'):
        snap = values[side]
        if not snap or not any(isinstance(snap.get(c), str) for c in columns):
            continue
        snap = dict(snap)
        for column in columns:
            value = snap.get(column)
            if isinstance(value, str) and not value.startswith(audit_keys.FINGERPRINT_PREFIX):
                snap[column] = audit_keys.fingerprint(key, values['entity'], column, value)
                changed = True
        values[side] = snap
    return changed


def _seal_and_start(bind):
    from lims.services.core import audit
    from lims.services.core import audit_keys
    from lims.services.core.audit_tables import LEGACY, SHARED, district_chain
    from lims.settings import get_settings

    events = bind.execute(sa.select(sa.func.count()).select_from(_events)).scalar()
    marks = bind.execute(sa.select(sa.func.count()).select_from(_marks)).scalar()
    if not events and not marks:
        return
    key = audit_keys.event_key()
    appender = _Appender(bind, key)
    if events:
        original, sealed, redacted, last = audit.LegacyScan(), audit.LegacyScan(), [], 0
        while True:
            rows = bind.execute(
                sa.select(_events).where(_events.c.seq > last).order_by(_events.c.seq).limit(BATCH)
            ).all()
            if not rows:
                break
            for row in rows:
                values = dict(row._mapping)
                original.add(values)
                if _redact(key, values):
                    bind.execute(
                        _events.update()
                        .where(_events.c.id == values['id'])
                        .values(before=values['before'], after=values['after'])
                    )
                    redacted.append(values['seq'])
                sealed.add(values)
            last = rows[-1].seq
        broken = None
        if original.first_break is not None:
            where, problem = original.first_break
            broken = f"event {where['id']} ({where['entity']} {where['entity_id']}): {problem}"
            if not get_settings().audit_seal_broken_chain:
                raise audit.LegacyChainBroken(
                    f"the audit trail is already broken at {broken}; it is not sealed silently: find out what "
                    "happened, then set LIMS_AUDIT_SEAL_BROKEN_CHAIN=1 to seal it with the break recorded"
                )
        legacy_id = appender.head_record(LEGACY, sealed.count, sealed.head)
        seal = {
            'chain': LEGACY,
            'count': sealed.count,
            'head': sealed.head,
            'digest': sealed.hexdigest(),
            'intact': broken is None,
            'break': broken,
            'redacted': redacted,
            'revision': revision,
        }
        appender.add(SHARED, 'audit_chain', legacy_id, 'seal', seal)
    rows = bind.execute(
        sa.select(_marks, _users.c.district_id).join(_users, _users.c.id == _marks.c.user_id).order_by(_marks.c.id)
    ).all()
    for row in rows:
        after = json.loads(audit.canonical({'id': row.id, 'user_id': row.user_id, 'seen_until': row.seen_until}))
        appender.add(district_chain(row.district_id), 'notification_mark', row.id, 'audit_start', after)
    appender.finish()
