"""Streamlit entry point of the dashboard (run by ``shopper dashboard``)."""

import streamlit as st

from shopper_assets.serving.dashboard import pages

st.set_page_config(page_title="Shopper Analytics", page_icon=":bar_chart:", layout="wide")
st.navigation(
    [
        st.Page(pages.overview, title="Overview", default=True),  # at /
        st.Page(pages.products, title="Products & categories", url_path="products"),
        st.Page(pages.funnel, title="Funnel & cart abandonment", url_path="funnel"),
        st.Page(pages.customers, title="Customers", url_path="customers"),
        st.Page(pages.marketing, title="Marketing", url_path="marketing"),
    ]
).run()
