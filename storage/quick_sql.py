"""The SQLite statements of ``storage.quick``, written by ``python -m storage.quick_gen``
(see there): do not edit."""

STATEMENTS = {'synced': ('SELECT sync_state.digest \nFROM sync_state \nWHERE sync_state.name = ?',
            (('name_1', None, 'sources', False),),
            (('digest', None),)),
 'pending_alerts': ('SELECT count(*) AS count_1 \nFROM alerts \nWHERE alerts.status = ?',
                    (('status_1', None, 'pending', False),),
                    (('count', None),)),
 'source_ids': ('SELECT sources.id, sources.name \n'
                'FROM sources \n'
                'WHERE sources.name IN (__[POSTCOMPILE_names])',
                (('names', None, None, True),),
                (('id', None), ('name', None))),
 'main_pages': ('SELECT pages.id, pages.source_id, pages.last_check_at, '
                'pages.next_check_at \n'
                'FROM pages \n'
                'WHERE pages.source_id IN (__[POSTCOMPILE_ids]) AND pages.kind = ? ORDER '
                'BY pages.id',
                (('ids', None, None, True), ('kind_1', None, 'page', False)),
                (('id', None),
                 ('source_id', None),
                 ('last_check_at', 'dt'),
                 ('next_check_at', 'dt'))),
 'take_many': ('UPDATE pages SET lease_owner=?, lease_expires=? WHERE pages.id IN (SELECT '
               'pages.id \n'
               'FROM pages \n'
               'WHERE pages.id IN (__[POSTCOMPILE_ids]) AND (pages.lease_owner IS NULL OR '
               'pages.lease_expires <= ?)) AND (pages.lease_owner IS NULL OR '
               'pages.lease_expires <= ?) RETURNING id',
               (('owner_', None, None, True),
                ('expires_', 'dt', None, True),
                ('ids', None, None, True),
                ('now_', 'dt', None, True),
                ('now_', 'dt', None, True)),
               (('id', None),)),
 'renew': ('UPDATE pages SET lease_expires=? WHERE pages.id IN (__[POSTCOMPILE_ids]) AND '
           'pages.lease_owner = ?',
           (('expires_', 'dt', None, True),
            ('ids', None, None, True),
            ('owner_', None, None, True)),
           ()),
 'end_lease': ('UPDATE pages SET lease_owner=?, lease_expires=? WHERE pages.id = ? AND '
               'pages.lease_owner = ?',
               (('lease_owner', None, None, False),
                ('lease_expires', 'dt', None, False),
                ('id_', None, None, True),
                ('owner_', None, None, True)),
               ()),
 'release_all': ('UPDATE pages SET lease_owner=?, lease_expires=? WHERE pages.lease_owner '
                 '= ?',
                 (('lease_owner', None, None, False),
                  ('lease_expires', 'dt', None, False),
                  ('owner_', None, None, True)),
                 ()),
 'states': ('SELECT pages.id, pages.source_id, pages.url, pages.etag, pages.last_modified, '
            'pages.failure_streak, pages.gone_streak, pages.status, pages.revision, '
            'pages.observed_at, pages.kind, pages.announce, pages.list_title, '
            'pages.list_date, sources.name, sources.updated_at, pages.settings_read_at, '
            'pages.read_rules, (SELECT changes.kind \n'
            'FROM changes \n'
            'WHERE changes.page_id = pages.id ORDER BY changes.id DESC\n'
            ' LIMIT ? OFFSET ?) AS change_kind, (SELECT checks.error_kind \n'
            'FROM checks \n'
            'WHERE checks.page_id = pages.id ORDER BY checks.id DESC\n'
            ' LIMIT ? OFFSET ?) AS error_kind, (SELECT count(*) AS count_1 \n'
            'FROM pages AS child \n'
            'WHERE child.parent_id = pages.id AND child.listed = 1) AS listed, CASE WHEN '
            '(pages.kind = ? AND pages.last_version_id IS NULL AND pages.announce = 0) '
            'THEN EXISTS (SELECT * \n'
            'FROM changes \n'
            'WHERE changes.page_id = pages.id AND changes.kind = ?) ELSE ? END AS '
            'text_owed, CASE WHEN (pages.kind = ?) THEN EXISTS (SELECT * \n'
            'FROM pages AS child \n'
            'WHERE child.same_as = pages.id AND child.kind = ?) ELSE ? END AS shared \n'
            'FROM pages JOIN sources ON sources.id = pages.source_id \n'
            'WHERE pages.id IN (__[POSTCOMPILE_page_ids])',
            (('param_1', None, 1, False),
             ('param_2', None, 0, False),
             ('param_3', None, 1, False),
             ('param_4', None, 0, False),
             ('kind_1', None, 'document', False),
             ('kind_2', None, 'document_added', False),
             ('param_5', 'bool', False, False),
             ('kind_3', None, 'document', False),
             ('kind_4', None, 'reference', False),
             ('param_6', 'bool', False, False),
             ('page_ids', None, None, True)),
            (('id', None),
             ('source_id', None),
             ('url', None),
             ('etag', None),
             ('last_modified', None),
             ('failure_streak', None),
             ('gone_streak', None),
             ('status', None),
             ('revision', None),
             ('observed_at', 'dt'),
             ('kind', None),
             ('announce', 'bool'),
             ('list_title', None),
             ('list_date', None),
             ('name', None),
             ('updated_at', 'dt'),
             ('settings_read_at', 'dt'),
             ('read_rules', None),
             ('change_kind', None),
             ('error_kind', None),
             ('listed', None),
             ('text_owed', 'bool'),
             ('shared', 'bool'))),
 'last_versions': ('SELECT versions.page_id, versions.id, versions.content_hash, '
                   'versions.title, versions.meta, versions.raw_sha256, '
                   'versions.fetched_at, versions.url, versions.attachments, '
                   'versions.line_ids \n'
                   'FROM versions JOIN (SELECT versions.id AS id, row_number() OVER '
                   '(PARTITION BY versions.page_id ORDER BY versions.id DESC) AS n \n'
                   'FROM versions \n'
                   'WHERE versions.page_id IN (__[POSTCOMPILE_page_ids])) AS anon_1 ON '
                   'anon_1.id = versions.id \n'
                   'WHERE anon_1.n <= ? ORDER BY versions.page_id, versions.id DESC',
                   (('page_ids', None, None, True), ('n_1', None, 5, False)),
                   (('page_id', None),
                    ('id', None),
                    ('content_hash', None),
                    ('title', None),
                    ('meta', 'json'),
                    ('raw_sha256', None),
                    ('fetched_at', 'dt'),
                    ('url', None),
                    ('attachments', 'json'),
                    ('line_ids', None))),
 'lock_many': ('SELECT pages.id, pages.revision, pages.observed_at, pages.lease_owner, '
               'pages.last_version_id \n'
               'FROM pages \n'
               'WHERE pages.id IN (__[POSTCOMPILE_ids]) ORDER BY pages.id',
               (('ids', None, None, True),),
               (('id', None),
                ('revision', None),
                ('observed_at', 'dt'),
                ('lease_owner', None),
                ('last_version_id', None))),
 'insert_check': ('INSERT INTO checks (page_id, started_at, duration, outcome, '
                  'http_status, bytes, raw_sha256, error_kind, error, version_id, worker) '
                  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
                  (('page_id', None, None, True),
                   ('started_at', 'dt', None, True),
                   ('duration', None, None, True),
                   ('outcome', None, None, True),
                   ('http_status', None, None, True),
                   ('bytes', None, None, True),
                   ('raw_sha256', None, None, True),
                   ('error_kind', None, None, True),
                   ('error', None, None, True),
                   ('version_id', None, None, True),
                   ('worker', None, None, True)),
                  (('id', None),))}

PAGE_COLUMNS = (('id', None),
 ('source_id', None),
 ('url', None),
 ('kind', None),
 ('parent_id', None),
 ('list_title', None),
 ('list_date', None),
 ('listed', 'bool'),
 ('unlisted_at', 'dt'),
 ('announce', 'bool'),
 ('etag', None),
 ('last_modified', None),
 ('last_version_id', None),
 ('last_check_at', 'dt'),
 ('last_ok_at', 'dt'),
 ('last_change_at', 'dt'),
 ('failure_streak', None),
 ('gone_streak', None),
 ('status', None),
 ('next_check_at', 'dt'),
 ('lease_owner', None),
 ('lease_expires', 'dt'),
 ('revision', None),
 ('observed_at', 'dt'),
 ('settings_read_at', 'dt'),
 ('read_rules', None),
 ('created_at', 'dt'),
 ('same_as', None))
