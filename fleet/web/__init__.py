"""The fleet's web nucleus: the acknowledge page and the call-back page (later the dashboard).

    settings   WebSettings: the [web] section of fleet.toml, typed
    app        create_app(): the Litestar app (routes, templates, rate limits, security headers)
    server     WebServer: serves an app with uvicorn in a thread (start/stop) or in a running loop
    ack        the acknowledge link: GET shows and changes nothing, POST redeems and acknowledges
    callback   the call-back page the kiosk's QR code opens: phone number + consent
    callbacks  the call-back requests in the store: save, notify the call centre, list, purge
    phones     PURE: read, check, format and mask phone numbers
    language   PURE: which language a page speaks (?lang=, Accept-Language, the site's)
    text       the pages' words in Turkish and English

Nothing here is imported by ``fleet.web`` itself: the store's migration and the CLI read
``callbacks`` without loading Litestar.
"""
