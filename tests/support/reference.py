"""The seed's own computation, in process with pandas and scikit-learn: the MSE to match."""

import pyarrow as pa
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split


def seed_frame(raw_file):
    with pa.memory_map(str(raw_file)) as source:
        return pa.ipc.open_file(source).read_all().to_pandas()


def seed_split(df):
    df = df[df["GrLivArea"] <= 4800]
    X = df.drop("SalePrice", axis=1)
    y = df["SalePrice"]
    return train_test_split(X, y, test_size=0.2, random_state=42)


def seed_mse(raw_file) -> float:
    X_train, X_test, y_train, y_test = seed_split(seed_frame(raw_file))
    model = LinearRegression().fit(X_train, y_train)
    return float(mean_squared_error(y_test, model.predict(X_test)))
