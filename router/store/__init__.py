"""The location store: accounts, users, saved addresses, bindings, admin networks, events and
the MSAG extract, over the database layer (`router.db`).

One module per aggregate, each a mixin over `base.StoreBase` (the shared transactions and
settings); `store.Store` composes them and `store.open_store` opens one. Errors are in
`errors`, the view's row types in `rows`.
"""
